"""Which languages an organization's FAQ is written in, measured on its phrasings.

Retrieval picks its encoder and its answering rule by the customer's language and by whether
the FAQ has ways of asking in that language; this is where the second half is measured.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol


class LanguageOf(Protocol):
    """Names the language of a text (policies.language.LanguageDetector has this shape)."""

    def detect(self, text: str) -> str: ...


def entry_language_shares(
    phrasings: Sequence[tuple[int, int, str]], language_of: Callable[[int], str] | None
) -> tuple[tuple[str, float], ...]:
    """For each language, the share of entries with at least one phrasing in it (sorted);
    ``language_of`` names the language of a phrasing by its id.

    Without it every FAQ counts as English, which is what it was before languages.
    """
    entries = {p[1] for p in phrasings}
    if not entries:
        return ()
    if language_of is None:
        return (("en", 1.0),)
    languages: dict[str, set[int]] = {}
    for phrasing_id, entry_id, _ in phrasings:
        languages.setdefault(language_of(phrasing_id), set()).add(entry_id)
    return tuple(sorted((code, len(ids) / len(entries)) for code, ids in languages.items()))

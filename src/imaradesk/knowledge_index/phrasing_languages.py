"""Which languages an organization's FAQ is written in, measured on its phrasings.

Retrieval picks its encoder and its answering rule by the customer's language and by whether
the FAQ has ways of asking in that language; this is where the second half is measured.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Protocol

# Detecting every phrasing of a very large knowledge base would add seconds to each build for
# no better an estimate.
_SAMPLE = 2000


class LanguageOf(Protocol):
    """Names the language of a text (policies.language.LanguageDetector has this shape)."""

    def detect(self, text: str) -> str: ...


def entry_language_shares(
    phrasings: Sequence[tuple[int, int, str]], detector: LanguageOf | None
) -> tuple[tuple[str, float], ...]:
    """For each language, the share of entries with at least one phrasing in it (sorted).

    Without a detector every FAQ counts as English, which is what it was before languages.
    """
    entries = {p[1] for p in phrasings}
    if not entries:
        return ()
    if detector is None:
        return (("en", 1.0),)
    sample = list(phrasings)
    if len(sample) > _SAMPLE:
        sample = random.Random(0).sample(sample, _SAMPLE)
        entries = {p[1] for p in sample}
    languages: dict[str, set[int]] = {}
    for _, entry_id, text in sample:
        languages.setdefault(detector.detect(text), set()).add(entry_id)
    return tuple(sorted((code, len(ids) / len(entries)) for code, ids in languages.items()))

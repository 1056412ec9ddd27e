"""What the parsers produce: an entry read from a file, before it has an id.

A parsing type, so that parsers never import storage. Storage takes any object of this shape
(its ``EntryDraftFields`` Protocol) and never imports this module.
"""

from __future__ import annotations

from dataclasses import dataclass

# The names a file may give a language, beside its ISO 639-1 code. Sheng is written Swahili.
_LANGUAGE_NAMES = {
    "english": "en",
    "kiingereza": "en",
    "eng": "en",
    "swahili": "sw",
    "kiswahili": "sw",
    "swa": "sw",
    "sheng": "sw",
}


def language_code(given: str) -> str | None:
    """The ISO 639-1 code of a language as a file names it ("sw", "Kiswahili"), or None."""
    folded = given.strip().casefold().replace("-", "_").split("_")[0]
    if folded in _LANGUAGE_NAMES:
        return _LANGUAGE_NAMES[folded]
    return folded if len(folded) == 2 and folded.isascii() and folded.isalpha() else None


@dataclass(frozen=True)
class EntryDraft:
    """An FAQ entry as read from a file, before it has an id."""

    external_id: str
    questions: tuple[str, ...]
    answer: str
    category: str | None
    line: int
    kind: str = "faq"
    # Where in the source it was found (a page, a heading path), shown in citations.
    location: str | None = None
    # The language of ``answer`` and the answer in other languages as (code, text), sorted.
    language: str = "en"
    translations: tuple[tuple[str, str], ...] = ()
    # The question in other languages as (code, text): how choices are listed to a customer
    # who writes in that language.
    question_translations: tuple[tuple[str, str], ...] = ()

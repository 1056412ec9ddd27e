"""What the parsers produce: an entry read from a file, before it has an id.

A parsing type, so that parsers never import storage. Storage takes any object of this shape
(its ``EntryDraftFields`` Protocol) and never imports this module.
"""

from __future__ import annotations

from dataclasses import dataclass


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

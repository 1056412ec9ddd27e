"""Sections: a run of paragraphs under one heading path, what every prose reader produces and
``passages.split_passages`` cuts into passages."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

Progress = Callable[[int, int], None]
MAX_HEADING_CHARS = 200


@dataclass(frozen=True)
class Section:
    """A run of paragraphs under one heading path (on one page, for PDFs)."""

    headings: tuple[str, ...]
    paragraphs: tuple[str, ...]
    page: int | None = None


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "\u2026"


class Outline:
    """Collects headings and paragraphs in reading order into sections."""

    def __init__(self) -> None:
        self.sections: list[Section] = []
        self._stack: list[tuple[int, str]] = []
        self._paragraphs: list[str] = []
        self._page: int | None = None

    def heading(self, level: int, text: str) -> None:
        text = " ".join(text.split())
        if not text:
            return
        self._flush()
        self._stack = [(lv, t) for lv, t in self._stack if lv < level]
        self._stack.append((level, shorten(text, MAX_HEADING_CHARS)))

    def paragraph(self, text: str) -> None:
        text = " ".join(text.split())
        if text:
            self._paragraphs.append(text)

    def page(self, number: int) -> None:
        self._flush()
        self._page = number

    def finish(self) -> list[Section]:
        self._flush()
        return self.sections

    def _flush(self) -> None:
        if self._paragraphs:
            headings = tuple(t for _, t in self._stack)
            self.sections.append(Section(headings, tuple(self._paragraphs), self._page))
            self._paragraphs = []

"""Reading a PDF's text layer into sections, with headings from its outline.

See ``passages.py`` for what is kept: running headers, footers and page numbers are dropped,
and a sentence running over a page break stays whole.
"""

from __future__ import annotations

import io
import re
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import pypdf
from pypdf import PasswordType
from pypdf.errors import PyPdfError

from imaradesk.knowledge_index.errors import ImportFormatError
from imaradesk.knowledge_index.sections import Outline, Progress, Section, shorten
from imaradesk.knowledge_index.sentences import split_sentences

_PDF_ERRORS = (PyPdfError, ValueError, KeyError, TypeError, IndexError, AttributeError, OSError)
_PAGE_NUMBER = re.compile(
    r"^(?:page\s*)?[-\u2013\u2014]?\s*\d+\s*[-\u2013\u2014]?(?:\s*(?:of|/)\s*\d+)?$", re.IGNORECASE
)
# Running headers and footers are short; a long repeated line is more likely real text.
_MAX_RUNNING_CHARS = 80
_ENDS_SENTENCE = re.compile(r"[.!?:\u2026\"'\u201d\u2019)\]]$")


@dataclass(frozen=True)
class PdfText:
    sections: list[Section]
    pages: int


def read_pdf(data: bytes, source: str, progress: Progress | None = None) -> PdfText:
    """Sections of a PDF's text layer, page by page, with headings from its outline."""
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        locked = reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED
    except _PDF_ERRORS as e:
        raise ImportFormatError(source, 0, f"not a readable PDF ({_reason(e)})") from e
    if locked:
        raise ImportFormatError(
            source, 0, "the PDF is encrypted with a password: upload an unprotected copy"
        )
    try:
        count = len(reader.pages)
    except _PDF_ERRORS as e:
        raise ImportFormatError(source, 0, f"not a readable PDF ({_reason(e)})") from e
    pages: list[list[str]] = []
    for number in range(1, count + 1):
        try:
            text = reader.pages[number - 1].extract_text() or ""
        except _PDF_ERRORS as e:
            raise ImportFormatError(
                source, 0, f"page {number} of the PDF cannot be read ({_reason(e)})"
            ) from e
        pages.append([line.strip() for line in text.splitlines() if line.strip()])
        if progress is not None:
            progress(number, count)
    outline = _outline_by_page(reader, count)
    items = _page_items(_drop_running_lines(pages, outline), outline)
    _join_broken_sentences(items)
    sections = Outline()
    for number, page_items in enumerate(items, 1):
        sections.page(number)
        for item in page_items:
            if isinstance(item, tuple):
                sections.heading(*item)
            else:
                sections.paragraph(item)
    return PdfText(sections.finish(), count)


def _reason(error: Exception) -> str:
    return shorten(str(error) or type(error).__name__, 200)


def _outline_by_page(reader: pypdf.PdfReader, count: int) -> list[list[tuple[int, str]]]:
    """The outline's (depth, title) entries, grouped by the 0-based page they point to."""
    by_page: list[list[tuple[int, str]]] = [[] for _ in range(count)]

    def walk(items: Sequence[object], depth: int) -> None:
        for item in items:
            if isinstance(item, list):
                walk(item, depth + 1)
                continue
            page = reader.get_destination_page_number(item)  # type: ignore[arg-type]
            title = " ".join(str(getattr(item, "title", "") or "").split())
            if title and page is not None and 0 <= page < count:
                by_page[page].append((depth + 1, title))

    try:
        walk(reader.outline, 0)
    except (*_PDF_ERRORS, RecursionError):
        # A damaged outline costs the headings, not the document.
        return [[] for _ in range(count)]
    return by_page


def _drop_running_lines(
    pages: list[list[str]], outline: list[list[tuple[int, str]]]
) -> list[list[str]]:
    """Remove page numbers and short lines repeated at the top or bottom of most pages.

    Lines that are the page's own outline headings stay, even when every chapter starts with
    "Chapter N".
    """

    def key(line: str) -> str:
        return re.sub(r"\d+", "#", line.casefold())

    def edge(lines: list[str]) -> list[tuple[int, str]]:
        return [(i, line) for i, line in enumerate(lines) if i < 2 or i >= len(lines) - 2]

    edges: Counter[str] = Counter()
    for lines in pages:
        edges.update({key(line) for _, line in edge(lines) if len(line) <= _MAX_RUNNING_CHARS})
    running = {k for k, n in edges.items() if len(pages) >= 3 and n >= max(3, len(pages) // 2)}
    cleaned = []
    for lines, headings in zip(pages, outline, strict=True):
        titles = {title.casefold() for _, title in headings}
        dropped = {
            i
            for i, line in edge(lines)
            if (key(line) in running or _PAGE_NUMBER.match(line))
            and " ".join(line.split()).casefold() not in titles
        }
        cleaned.append([line for i, line in enumerate(lines) if i not in dropped])
    return cleaned


PageItem = tuple[int, str] | str  # a heading (level, title) or a paragraph


def _page_items(
    pages: list[list[str]], outline: list[list[tuple[int, str]]]
) -> list[list[PageItem]]:
    """Each page's headings and paragraphs; an outline title found as a line is its heading."""
    result: list[list[PageItem]] = []
    for lines, headings in zip(pages, outline, strict=True):
        items: list[PageItem] = []
        cursor = 0
        folded = [" ".join(line.split()).casefold() for line in lines]
        for level, title in headings:
            try:
                at = folded.index(title.casefold(), cursor)
            except ValueError:
                items.append((level, title))  # not printed as a line: it starts where we are
                continue
            items.extend(_paragraphs(lines[cursor:at]))
            items.append((level, title))
            cursor = at + 1
        items.extend(_paragraphs(lines[cursor:]))
        result.append(items)
    return result


def _paragraphs(lines: list[str]) -> list[str]:
    """Join a page's lines into paragraphs; a short line ending a sentence ends a paragraph."""
    if not lines:
        return []
    typical = statistics.median(len(line) for line in lines)
    paragraphs: list[str] = []
    current = ""
    for line in lines:
        if current.endswith("-") and line[:1].islower():
            current = current[:-1] + line  # a word hyphenated across lines
        else:
            current = f"{current} {line}" if current else line
        if _ENDS_SENTENCE.search(line) and len(line) < 0.75 * typical:
            paragraphs.append(current)
            current = ""
    if current:
        paragraphs.append(current)
    return paragraphs


def _join_broken_sentences(items: list[list[PageItem]]) -> None:
    """Move the end of a sentence cut by a page break back to the page where it starts."""
    for previous, page in zip(items, items[1:], strict=False):
        if not previous or not page:
            continue
        last, first = previous[-1], page[0]
        if isinstance(last, tuple) or isinstance(first, tuple) or _ENDS_SENTENCE.search(last):
            continue
        sentences = split_sentences(first)
        if last.endswith("-") and sentences[0][:1].islower():
            previous[-1] = last[:-1] + sentences[0]  # a word hyphenated across the break
        else:
            previous[-1] = f"{last} {sentences[0]}"
        rest = " ".join(sentences[1:])
        if rest:
            page[0] = rest
        else:
            del page[0]

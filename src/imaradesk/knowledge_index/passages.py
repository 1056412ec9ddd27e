"""Reading prose documents (HTML, plain text, PDF, DOCX, Markdown prose) into passages.

A reader turns a file into ``Section`` s (a heading path, the page for PDFs, paragraphs of plain
text); ``split_passages`` cuts each section into passages of ``MIN_WORDS``-``MAX_WORDS`` words,
at a paragraph's end when it can and at a sentence's end always (only a single sentence longer
than the limit is cut, between words). Passages never cross a heading. Each passage becomes an
``EntryDraft`` of kind ``"passage"``:

- ``external_id``: ``<doc>:p12-3`` (the 3rd passage starting on page 12) for PDFs and
  ``<doc>:s<digest>-2`` (the 2nd passage of the section with that heading path) otherwise, where
  ``<doc>`` is a digest of the file's name: external ids are unique per organization, so two
  files must not share them. The id depends only on the file's name and the passage's place, so
  uploading the same file again updates its entries instead of adding new ones, and editing one
  section leaves the ids (and so the stored vectors) of the other sections alone.
- ``questions``: one phrasing, the heading path and the passage text: what gets embedded.
- ``answer``: the passage text; ``category``: the top heading (or None); ``line``: the passage's
  1-based position in the document; ``location``, for citations: ``"page 12"``,
  ``"Fees > Limits"`` or ``"page 12, Fees > Limits"``.

Formats:

- HTML (beautifulsoup4, the encoding from the BOM or ``<meta charset>``): ``<h1>``-``<h6>`` start
  sections; script, style, nav, noscript, template, svg and iframe are dropped; every block
  element (p, li, div, tr, ...) and ``<br>`` ends a paragraph; table cells are joined with " | ".
- Plain text: UTF-8 (UTF-16 with a byte-order mark too); blank lines separate paragraphs;
  there are no headings.
- PDF (pypdf): the text of each page; the outline (bookmarks) names the headings, and a line
  equal to an outline title starts that section on its page. Lines repeated at the top or
  bottom of most pages (running headers, footers) and bare page numbers are dropped; a sentence
  running over a page break stays whole, on the page where it starts. A PDF with no text layer
  (a scan) is refused, as is one encrypted with a password.
- DOCX (python-docx): body paragraphs and tables in reading order; paragraphs styled Title or
  Heading 1-9 start sections; each table row is a paragraph of its cells joined with " | ".
  Headers, footers, text boxes and comments are not read.
- Markdown prose: rendered with markdown-it (tables enabled), then read as HTML, so every
  heading level starts a section. ``documents.py`` reads a Markdown file as an FAQ instead when
  at least half of its ``##`` headings end with a question mark.

Every problem is an ``ImportFormatError`` naming the file and the reason; a broken file never
stops the others of the same import.
"""

from __future__ import annotations

import hashlib
import io
import re
import statistics
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

import docx
import pypdf
from bs4 import BeautifulSoup, CData, NavigableString, Tag
from docx.table import Table
from lxml import etree
from markdown_it import MarkdownIt
from pypdf import PasswordType
from pypdf.errors import PyPdfError

from imaradesk.knowledge_index.drafts import EntryDraft
from imaradesk.knowledge_index.errors import ImportFormatError

Progress = Callable[[int, int], None]

# all-MiniLM-L6-v2 reads at most 256 word pieces: 180 words (about 240 pieces of English) plus
# the heading path is what it can see whole.
MIN_WORDS = 60
MAX_WORDS = 180
# A "word" can be a URL or a run of base64; passages are bounded in characters as well.
MAX_PASSAGE_CHARS = 2000
MAX_HEADING_CHARS = 200
MAX_PASSAGES = 20000
# The unpacked size of a DOCX's parts (a zip bomb would otherwise be read into memory whole).
MAX_UNPACKED_BYTES = 200 * 1024 * 1024
_MAX_CATEGORY_CHARS = 200
_MAX_LOCATION_CHARS = 300


@dataclass(frozen=True)
class Section:
    """A run of paragraphs under one heading path (on one page, for PDFs)."""

    headings: tuple[str, ...]
    paragraphs: tuple[str, ...]
    page: int | None = None


# -- sentences ---------------------------------------------------------------------------------

# Words that end in a full stop without ending the sentence when a capital follows ("Dr. Kamau",
# "No. 5", "e.g. Safaricom"). "etc." is left out: it usually does end the sentence.
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof sr jr st mt no nos vs cf approx dept fig figs inc ltd co corp govt est "
    "tel ref refs vol ch sec art para pp ave rd jan feb mar apr jun jul aug sep sept oct nov dec "
    "eg ie al".split()
)
_DOTTED = re.compile(r"^(?:[^\W\d_]\.)+[^\W\d_]$")  # e.g, i.e, u.s, a.m: letters and dots
_BOUNDARY = re.compile(r"[.!?\u2026\u061f\uff1f]+[\"'\u201d\u2019)\]]*\s+")


def split_sentences(text: str) -> list[str]:
    """Split a paragraph into sentences, keeping abbreviations, initials and decimals whole."""
    text = " ".join(text.split())
    sentences: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        end = match.end()
        if end < len(text) and text[end].islower():
            continue  # "e.g. for", "approx. ten": a sentence goes on in lower case
        if match.group().startswith(".") and _is_abbreviation(text[start : match.start()]):
            continue
        sentences.append(text[start:end].strip())
        start = end
    if start < len(text):
        sentences.append(text[start:].strip())
    return [s for s in sentences if s]


def _is_abbreviation(before: str) -> bool:
    words = before.rsplit(None, 1)
    if not words:
        return False
    word = words[-1].lstrip("([\"'\u201c\u2018").casefold()
    if len(word) == 1 and word.isalpha():
        return True  # an initial: "J. Kamau"
    return word in _ABBREVIATIONS or bool(_DOTTED.match(word))


# -- passages ----------------------------------------------------------------------------------


def split_passages(
    sections: Sequence[Section],
    source: str,
    *,
    min_words: int = MIN_WORDS,
    max_words: int = MAX_WORDS,
    progress: Progress | None = None,
) -> tuple[EntryDraft, ...]:
    """Cut sections into passages with stable ids; identical passages are kept once."""
    doc = hashlib.sha256(source.encode()).hexdigest()[:10]
    drafts: list[EntryDraft] = []
    seen: set[str] = set()
    per_page: Counter[int] = Counter()
    per_path: Counter[tuple[str, ...]] = Counter()
    for done, section in enumerate(sections, 1):
        path = section.headings
        per_path[path] += 1
        section_key = hashlib.sha256(
            "\x1f".join((*path, str(per_path[path]))).encode()
        ).hexdigest()[:8]
        heading = " > ".join(path)
        for n, text in enumerate(_pack(section.paragraphs, min_words, max_words), 1):
            if section.page is not None:
                per_page[section.page] += 1
                local = f"p{section.page}-{per_page[section.page]}"
            else:
                local = f"s{section_key}-{n}"
            phrasing = f"{heading}\n{text}" if heading else text
            if phrasing in seen:
                continue
            seen.add(phrasing)
            if len(drafts) >= MAX_PASSAGES:
                raise ImportFormatError(
                    source,
                    0,
                    f"the document has more than {MAX_PASSAGES:,} passages: "
                    "split it into smaller files",
                )
            drafts.append(
                EntryDraft(
                    external_id=f"{doc}:{local}",
                    questions=(phrasing,),
                    answer=text,
                    category=_shorten(path[0], _MAX_CATEGORY_CHARS) if path else None,
                    line=len(drafts) + 1,
                    kind="passage",
                    location=_location(section.page, heading),
                )
            )
        if progress is not None:
            progress(done, len(sections))
    return tuple(drafts)


def _location(page: int | None, heading: str) -> str | None:
    parts = ([f"page {page}"] if page is not None else []) + ([heading] if heading else [])
    return _shorten(", ".join(parts), _MAX_LOCATION_CHARS) if parts else None


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "\u2026"


def _pack(paragraphs: Iterable[str], min_words: int, max_words: int) -> list[str]:
    """Group sentences into passages; a passage is a list of paragraphs, each of sentences."""
    passages: list[list[list[str]]] = []
    current: list[list[str]] = []
    count = 0
    for paragraph in paragraphs:
        current.append([])
        for sentence in _bounded_sentences(paragraph, max_words):
            words = len(sentence.split())
            chars = sum(len(s) + 1 for p in current for s in p)
            if count and (count + words > max_words or chars + len(sentence) > MAX_PASSAGE_CHARS):
                passages.append([p for p in current if p])
                current, count = [[]], 0
            current[-1].append(sentence)
            count += words
        if count >= min_words:
            # The end of a paragraph is the best place to cut, once the passage is long enough.
            passages.append([p for p in current if p])
            current, count = [], 0
    current = [p for p in current if p]
    if current:
        last = passages[-1] if passages else None
        if (
            last is not None
            and count < min_words
            and _words(last) + count <= max_words
            and _chars(last) + _chars(current) <= MAX_PASSAGE_CHARS
        ):
            last.extend(current)  # a short tail joins the passage before it
        else:
            passages.append(current)
    return ["\n".join(" ".join(p) for p in passage) for passage in passages]


def _words(passage: list[list[str]]) -> int:
    return sum(len(s.split()) for p in passage for s in p)


def _chars(passage: list[list[str]]) -> int:
    return sum(len(s) + 1 for p in passage for s in p)


def _bounded_sentences(paragraph: str, max_words: int) -> Iterator[str]:
    """The paragraph's sentences, a sentence over the limits cut between words."""
    for sentence in split_sentences(paragraph):
        words = sentence.split()
        if len(words) <= max_words and len(sentence) <= MAX_PASSAGE_CHARS:
            yield sentence
            continue
        piece: list[str] = []
        size = 0
        for word in words:
            while len(word) > MAX_PASSAGE_CHARS:  # no space to cut at: cut the characters
                if piece:
                    yield " ".join(piece)
                    piece, size = [], 0
                yield word[:MAX_PASSAGE_CHARS]
                word = word[MAX_PASSAGE_CHARS:]
            if not word:
                continue
            if piece and (len(piece) >= max_words or size + len(word) + 1 > MAX_PASSAGE_CHARS):
                yield " ".join(piece)
                piece, size = [], 0
            piece.append(word)
            size += len(word) + 1
        if piece:
            yield " ".join(piece)


# -- building sections -------------------------------------------------------------------------


class _Outline:
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
        self._stack.append((level, _shorten(text, MAX_HEADING_CHARS)))

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


# -- HTML and Markdown -------------------------------------------------------------------------

_DROPPED = ("script", "style", "nav", "noscript", "template", "svg", "iframe", "head")
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_CELLS = frozenset({"td", "th"})
_BLOCKS = frozenset(
    "address article aside blockquote body caption dd details dialog div dl dt fieldset "
    "figcaption figure footer form header hgroup hr html li main ol p pre section summary "
    "table tbody thead tfoot tr ul".split()
)


def read_html(data: bytes | str) -> list[Section]:
    """Sections of an HTML page: its headings and the text of its block elements."""
    soup = BeautifulSoup(data, "html.parser")
    for tag in soup.find_all(list(_DROPPED)):
        tag.decompose()
    outline = _Outline()
    buffer: list[str] = []
    block: Tag | None = None

    def flush() -> None:
        outline.paragraph("".join(buffer))
        buffer.clear()

    for node in soup.descendants:
        if isinstance(node, Tag):
            if node.name in _HEADINGS:
                flush()
                outline.heading(_HEADINGS[node.name], node.get_text(" "))
            elif node.name in ("br", "hr"):
                flush()
            continue
        if type(node) not in (NavigableString, CData):
            continue  # comments, the doctype, processing instructions
        owner = _block_of(node)
        if owner is not None and owner.name in _HEADINGS:
            continue  # read whole with its heading
        if not node.strip():
            # Whitespace between blocks (say, between table cells) must not split them.
            if owner is block:
                buffer.append(" ")
            continue
        if owner is not block:
            same_row = (
                owner is not None
                and block is not None
                and owner.name in _CELLS
                and block.name in _CELLS
                and owner.parent is block.parent
            )
            if same_row and buffer:
                buffer.append(" | ")
            elif not same_row:
                flush()
            block = owner
        buffer.append(str(node))
    flush()
    return outline.finish()


def _block_of(node: NavigableString) -> Tag | None:
    parent = node.parent
    while parent is not None:
        if parent.name in _BLOCKS or parent.name in _CELLS or parent.name in _HEADINGS:
            return parent
        parent = parent.parent
    return None


def read_markdown(text: str) -> list[Section]:
    """Sections of a Markdown document read as prose: every heading level starts one."""
    return read_html(MarkdownIt("commonmark").enable("table").render(text))


# -- plain text --------------------------------------------------------------------------------


def decode_text(data: bytes, source: str) -> str:
    """Text from UTF-8 (or UTF-16 with a byte-order mark), refusing anything else clearly."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as e:
            raise ImportFormatError(source, 0, "not valid UTF-16 text") from e
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            line = data[: e.start].count(b"\n") + 1
            raise ImportFormatError(
                source, line, "not valid UTF-8 text: save the file as UTF-8"
            ) from e
    if "\x00" in text:
        raise ImportFormatError(source, 0, "this is a binary file, not text")
    return text


def read_text(text: str) -> list[Section]:
    """One section of paragraphs separated by blank lines."""
    outline = _Outline()
    for paragraph in re.split(r"\n\s*\n", text.replace("\r\n", "\n").replace("\r", "\n")):
        outline.paragraph(paragraph)
    return outline.finish()


# -- DOCX --------------------------------------------------------------------------------------

_DOCX_ERRORS = (zipfile.BadZipFile, KeyError, ValueError, etree.LxmlError)
_HEADING_STYLE = re.compile(r"^heading ([1-9])$", re.IGNORECASE)


def read_docx(data: bytes, source: str) -> list[Section]:
    """Sections of a Word document, in reading order; tables row by row."""
    not_docx = "not a readable Word document (.docx); an old .doc file must be saved as .docx"
    try:
        unpacked = sum(info.file_size for info in zipfile.ZipFile(io.BytesIO(data)).infolist())
    except (zipfile.BadZipFile, ValueError) as e:
        raise ImportFormatError(source, 0, not_docx) from e
    if unpacked > MAX_UNPACKED_BYTES:
        raise ImportFormatError(
            source, 0, f"the document unpacks to more than {MAX_UNPACKED_BYTES // 2**20} MiB"
        )
    outline = _Outline()
    try:
        document = docx.Document(io.BytesIO(data))
        for block in document.iter_inner_content():
            if isinstance(block, Table):
                for row in block.rows:
                    outline.paragraph(_row_text(row.cells))
                continue
            style = block.style.name if block.style is not None else ""
            match = _HEADING_STYLE.match(style or "")
            if style == "Title":
                outline.heading(0, block.text)
            elif match:
                outline.heading(int(match.group(1)), block.text)
            else:
                outline.paragraph(block.text)
    except _DOCX_ERRORS as e:
        raise ImportFormatError(source, 0, not_docx) from e
    return outline.finish()


def _row_text(cells: Sequence[object]) -> str:
    texts: list[str] = []
    previous = None
    for cell in cells:
        element = cell._tc  # type: ignore[attr-defined]
        if element is previous:
            continue  # a merged cell is listed once per grid column it spans
        previous = element
        text = " ".join(cell.text.split())  # type: ignore[attr-defined]
        if text:
            texts.append(text)
    return " | ".join(texts)


# -- PDF ---------------------------------------------------------------------------------------

# pypdf raises its own errors for most damage, and built-in ones for some malformed structures.
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
    sections = _Outline()
    for number, page_items in enumerate(items, 1):
        sections.page(number)
        for item in page_items:
            if isinstance(item, tuple):
                sections.heading(*item)
            else:
                sections.paragraph(item)
    return PdfText(sections.finish(), count)


def _reason(error: Exception) -> str:
    return _shorten(str(error) or type(error).__name__, 200)


def _outline_by_page(reader: pypdf.PdfReader, count: int) -> list[list[tuple[int, str]]]:
    """The outline's (depth, title) entries, grouped by the 0-based page they point to."""
    by_page: list[list[tuple[int, str]]] = [[] for _ in range(count)]

    def walk(items: list[object], depth: int) -> None:
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

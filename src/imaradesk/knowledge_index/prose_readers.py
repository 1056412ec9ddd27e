"""Readers of prose files into sections: HTML, Markdown prose, plain text and DOCX.

See ``passages.py`` for the formats and what each reader keeps or drops.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from collections.abc import Sequence

import docx
from bs4 import BeautifulSoup, CData, Tag
from bs4.element import NavigableString
from docx.table import Table
from lxml import etree
from markdown_it import MarkdownIt

from imaradesk.knowledge_index.errors import ImportFormatError
from imaradesk.knowledge_index.sections import Outline, Section

# The unpacked size of a DOCX's parts (a zip bomb would otherwise be read into memory whole),
# and of its XML parts alone: the text and its markup, which the parser walks node by node.
# 32 MiB of XML is millions of words, far beyond any handbook; images do not count there.
MAX_UNPACKED_BYTES = 200 * 1024 * 1024
MAX_UNPACKED_XML_BYTES = 32 * 1024 * 1024


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
    outline = Outline()
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
        if not isinstance(node, NavigableString) or type(node) not in (NavigableString, CData):
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
    outline = Outline()
    for paragraph in re.split(r"\n\s*\n", text.replace("\r\n", "\n").replace("\r", "\n")):
        outline.paragraph(paragraph)
    return outline.finish()


# -- DOCX --------------------------------------------------------------------------------------

# A damaged archive fails in zlib or zipfile as often as in the XML.
_DOCX_ERRORS = (zipfile.BadZipFile, KeyError, ValueError, etree.LxmlError, zlib.error, EOFError)
_HEADING_STYLE = re.compile(r"^heading ([1-9])$", re.IGNORECASE)


def read_docx(data: bytes, source: str) -> list[Section]:
    """Sections of a Word document, in reading order; tables row by row."""
    not_docx = "not a readable Word document (.docx); an old .doc file must be saved as .docx"
    try:
        parts = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except (zipfile.BadZipFile, ValueError) as e:
        raise ImportFormatError(source, 0, not_docx) from e
    unpacked = sum(info.file_size for info in parts)
    xml = sum(info.file_size for info in parts if info.filename.endswith((".xml", ".rels")))
    if xml > MAX_UNPACKED_XML_BYTES:
        raise ImportFormatError(
            source,
            0,
            f"the document's text unpacks to more than {MAX_UNPACKED_XML_BYTES // 2**20} MiB: "
            "split it into smaller files",
        )
    if unpacked > MAX_UNPACKED_BYTES:
        raise ImportFormatError(
            source, 0, f"the document unpacks to more than {MAX_UNPACKED_BYTES // 2**20} MiB"
        )
    outline = Outline()
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

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

The readers live in ``prose_readers.py`` and ``pdf_reader.py`` (and are named here too),
sections in ``sections.py``, sentence splitting in ``sentences.py``; this module cuts passages.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence

from imaradesk.knowledge_index.drafts import EntryDraft
from imaradesk.knowledge_index.errors import ImportFormatError

# Re-exported: the readers lived here, and callers read files through this module.
from imaradesk.knowledge_index.pdf_reader import PdfText as PdfText
from imaradesk.knowledge_index.pdf_reader import read_pdf as read_pdf
from imaradesk.knowledge_index.prose_readers import MAX_UNPACKED_BYTES as MAX_UNPACKED_BYTES
from imaradesk.knowledge_index.prose_readers import decode_text as decode_text
from imaradesk.knowledge_index.prose_readers import read_docx as read_docx
from imaradesk.knowledge_index.prose_readers import read_html as read_html
from imaradesk.knowledge_index.prose_readers import read_markdown as read_markdown
from imaradesk.knowledge_index.prose_readers import read_text as read_text
from imaradesk.knowledge_index.sections import MAX_HEADING_CHARS as MAX_HEADING_CHARS
from imaradesk.knowledge_index.sections import Progress, shorten
from imaradesk.knowledge_index.sections import Section as Section
from imaradesk.knowledge_index.sentences import split_sentences as split_sentences

# all-MiniLM-L6-v2 reads at most 256 word pieces: 180 words (about 240 pieces of English) plus
# the heading path is what it can see whole.
MIN_WORDS = 60
MAX_WORDS = 180
# A "word" can be a URL or a run of base64; passages are bounded in characters as well.
MAX_PASSAGE_CHARS = 2000
MAX_PASSAGES = 20000
_MAX_CATEGORY_CHARS = 200
_MAX_LOCATION_CHARS = 300


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
                    category=shorten(path[0], _MAX_CATEGORY_CHARS) if path else None,
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
    return shorten(", ".join(parts), _MAX_LOCATION_CHARS) if parts else None


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

"""Reading uploaded files into entry drafts, refusing a malformed file whole.

``parse_bytes(name, data)`` dispatches on the extension (``SUPPORTED_EXTENSIONS``):

- CSV FAQ: a header with ``question`` and ``answer`` and optional ``id`` and ``category``; rows
  that share an ``id`` are one entry with several phrasings of its question (the answer may be
  given once).
- Markdown: an FAQ when at least half of its ``##`` headings end with a question mark: each
  ``##`` heading is then a question and the section under it the answer, and a ``#`` heading
  names the category of the questions after it. Otherwise (no ``##`` headings, or mostly
  statements like "## Opening hours") it is prose, split into passages like the formats below.
- HTML, plain text, PDF, DOCX: prose, split into passages with their place for citations
  (``passages.py``).

Every refusal is an ``ImportFormatError`` naming the file, the line when there is one, and the
reason; an empty document (a scanned PDF without a text layer, say) is refused too.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PureWindowsPath

from markdown_it import MarkdownIt

from imaradesk.knowledge_index.drafts import EntryDraft, language_code

# Re-exported: callers imported it from here before errors.py held it.
from imaradesk.knowledge_index.errors import ImportFormatError as ImportFormatError

MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_QUESTION_CHARS = 1000
MAX_ANSWER_CHARS = 20000
MAX_ID_CHARS = 200

SUPPORTED_EXTENSIONS = (".csv", ".md", ".markdown", ".html", ".htm", ".txt", ".pdf", ".docx")
_MEDIA_TYPES = {
    ".csv": "text/csv",
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".html": "text/html",
    ".htm": "text/html",
    ".txt": "text/plain",
    ".pdf": "application/pdf",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}
_FAQ_QUESTION_MARKS = ("?", "\uff1f", "\u061f")  # ASCII, full-width, Arabic


@dataclass(frozen=True)
class ParsedDocument:
    source: str
    drafts: tuple[EntryDraft, ...]
    # Pages of a PDF, for reports; None for other formats.
    pages: int | None = None

    @property
    def phrasing_count(self) -> int:
        return sum(len(d.questions) for d in self.drafts)


def parse_file(path: Path) -> ParsedDocument:
    """Parse a file by its extension."""
    source = path.name
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ImportFormatError(source, 0, _too_large())
        data = path.read_bytes()
    except OSError as e:
        raise ImportFormatError(source, 0, f"cannot read file: {e.strerror}") from e
    return parse_bytes(source, data)


def media_type_of(name: str) -> str:
    """The media type recorded for an upload of that name."""
    return _MEDIA_TYPES.get(_extension(name), "application/octet-stream")


def parse_bytes(
    name: str, data: bytes, *, progress: Callable[[int, int], None] | None = None
) -> ParsedDocument:
    """Parse an upload by its name's extension; ``progress(done, total)`` per page or section."""
    source = PureWindowsPath(name).name  # browsers may send "C:\\fakepath\\faq.csv"
    suffix = _extension(source)
    if suffix not in SUPPORTED_EXTENSIONS:
        raise ImportFormatError(
            source,
            0,
            f"unsupported file type {suffix or '(none)'}: use one of "
            + ", ".join(SUPPORTED_EXTENSIONS),
        )
    if len(data) > MAX_FILE_BYTES:
        raise ImportFormatError(source, 0, _too_large())
    if not data.strip():
        raise ImportFormatError(source, 0, "the file is empty")
    if suffix == ".csv":
        return _done(parse_csv(data, source), progress)
    if suffix in (".md", ".markdown") and is_faq_markdown(_decode(data, source)):
        return _done(parse_markdown(data, source), progress)
    return _parse_prose(source, suffix, data, progress)


def _parse_prose(
    source: str, suffix: str, data: bytes, progress: Callable[[int, int], None] | None
) -> ParsedDocument:
    # Imported here: the PDF, Word and HTML libraries are only needed when such a file comes.
    from imaradesk.knowledge_index import passages

    pages = None
    empty = "no text found"
    if suffix == ".pdf":
        pdf = passages.read_pdf(data, source, progress)
        sections, pages = pdf.sections, pdf.pages
        empty = "no text found: the PDF has no text layer (a scan?); run it through OCR first"
        progress = None  # already told page by page
    elif suffix == ".docx":
        sections = passages.read_docx(data, source)
    elif suffix in (".html", ".htm"):
        sections = passages.read_html(data)
    elif suffix in (".md", ".markdown"):
        sections = passages.read_markdown(_decode(data, source))
    else:
        sections = passages.read_text(passages.decode_text(data, source))
    drafts = passages.split_passages(sections, source, progress=progress)
    if not drafts:
        raise ImportFormatError(source, 0, empty)
    return ParsedDocument(source, drafts, pages)


def is_faq_markdown(text: str) -> bool:
    """Whether Markdown is an FAQ: at least half of its ``##`` headings end with "?"."""
    tokens = MarkdownIt("commonmark").parse(text)
    titles = [
        tokens[i + 1].content.strip()
        for i, token in enumerate(tokens)
        if token.type == "heading_open" and token.tag == "h2"
    ]
    asked = sum(title.endswith(_FAQ_QUESTION_MARKS) for title in titles)
    return bool(titles) and 2 * asked >= len(titles)


def _done(document: ParsedDocument, progress: Callable[[int, int], None] | None) -> ParsedDocument:
    if progress is not None:
        progress(1, 1)
    return document


def _extension(name: str) -> str:
    return PureWindowsPath(name).suffix.lower()


def _too_large() -> str:
    return f"file is larger than {MAX_FILE_BYTES // 2**20} MiB"


def _decode(data: bytes, source: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise ImportFormatError(source, line, "not valid UTF-8 text") from e


def normalise_question(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    text = re.sub(r"\s+", " ", text).strip()
    return text.rstrip("?!. ")


def question_key(text: str) -> str:
    """A stable external id for an entry identified only by its question."""
    return "q:" + hashlib.sha256(normalise_question(text).encode()).hexdigest()[:24]


def _clean(value: str | None) -> str:
    return (value or "").strip()


def parse_csv(data: bytes, source: str) -> ParsedDocument:
    text = _decode(data, source)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    width, index = _csv_header(reader, source)
    entries = _CsvEntries(source, index)
    line = 1
    while True:
        start = line + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            raise ImportFormatError(source, reader.line_num or start, f"malformed CSV: {e}") from e
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != width:
            raise ImportFormatError(
                source, start, f"expected {width} fields as in the header, found {len(row)}"
            )
        entries.add(row, start)
    return ParsedDocument(source, entries.drafts())


def _csv_header(reader: Iterator[list[str]], source: str) -> tuple[int, dict[str, int]]:
    """The header's number of fields, and the position of each named column."""
    try:
        header = next(reader)
    except StopIteration:
        raise ImportFormatError(source, 0, "the file is empty") from None
    except csv.Error as e:
        raise ImportFormatError(source, 1, f"malformed header: {e}") from e
    columns = [h.strip().casefold() for h in header]
    missing = [c for c in ("question", "answer") if c not in columns]
    if missing:
        raise ImportFormatError(
            source,
            1,
            f"header must name the columns question and answer (missing: {', '.join(missing)})",
        )
    for column in columns:
        kind, _, code = column.partition("_")
        if kind in ("answer", "question") and code and language_code(code) is None:
            raise ImportFormatError(
                source, 1, f"column {column}: {kind}_ must be followed by a language code"
            )
    duplicated = {c for c in columns if c and columns.count(c) > 1}
    if duplicated:
        raise ImportFormatError(source, 1, f"duplicate column(s): {', '.join(sorted(duplicated))}")
    return len(columns), {name: i for i, name in enumerate(columns)}


class _CsvEntries:
    """The entries of a CSV FAQ as its rows come: rows sharing an id (or, without an id
    column, the same question) are one entry with several phrasings."""

    def __init__(self, source: str, index: dict[str, int]) -> None:
        self._source = source
        self._index = index
        self._has_id = "id" in index
        self._questions: dict[str, list[str]] = {}
        self._answers: dict[str, tuple[str, int]] = {}
        # The language of each entry's answer, and its answers in other languages (from a
        # row in another language, or an answer_<code> column).
        self._languages: dict[str, str] = {}
        self._translations: dict[str, dict[str, tuple[str, int]]] = {}
        self._question_in: dict[str, dict[str, str]] = {}
        self._translation_columns = {
            code: i
            for name, i in index.items()
            if name.startswith("answer_") and (code := language_code(name[7:])) is not None
        }
        self._question_columns = {
            code: i
            for name, i in index.items()
            if name.startswith("question_") and (code := language_code(name[9:])) is not None
        }
        self._categories: dict[str, tuple[str | None, int]] = {}
        self._first_line: dict[str, int] = {}
        self._seen_phrasing: dict[tuple[str, str], int] = {}

    def add(self, row: list[str], start: int) -> None:
        source, index = self._source, self._index
        question = _clean(row[index["question"]])
        answer = _clean(row[index["answer"]])
        category = _clean(row[index["category"]]) if "category" in index else ""
        language = self._row_language(row, start)
        if not question:
            raise ImportFormatError(source, start, "the question is empty")
        if len(question) > MAX_QUESTION_CHARS:
            raise ImportFormatError(
                source, start, f"the question is longer than {MAX_QUESTION_CHARS} characters"
            )
        if len(answer) > MAX_ANSWER_CHARS:
            raise ImportFormatError(
                source, start, f"the answer is longer than {MAX_ANSWER_CHARS} characters"
            )
        if self._has_id:
            entry_id = _clean(row[index["id"]])
            if not entry_id:
                raise ImportFormatError(source, start, "the id is empty")
            if len(entry_id) > MAX_ID_CHARS:
                raise ImportFormatError(
                    source, start, f"the id is longer than {MAX_ID_CHARS} characters"
                )
        else:
            entry_id = question_key(question)
            if entry_id in self._first_line and not answer and entry_id in self._answers:
                answer = self._answers[entry_id][0]
        self._record(entry_id, question, answer, category, start, language)
        for code, column in self._translation_columns.items():
            if translated := self._cell(row, column, MAX_ANSWER_CHARS, f"answer_{code}", start):
                self._translate(entry_id, question, code, translated, start)
        # A question_<code> column is one more way of asking, in that language.
        for code, column in self._question_columns.items():
            if asked := self._cell(row, column, MAX_QUESTION_CHARS, f"question_{code}", start):
                self._record(entry_id, asked, "", "", start, code)

    def _cell(self, row: list[str], column: int, limit: int, what: str, start: int) -> str:
        value = _clean(row[column])
        if len(value) > limit:
            raise ImportFormatError(
                self._source, start, f"the {what} is longer than {limit} characters"
            )
        return value

    def _row_language(self, row: list[str], start: int) -> str:
        if "language" not in self._index:
            return "en"
        given = _clean(row[self._index["language"]])
        if not given:
            return "en"
        code = language_code(given)
        if code is None:
            raise ImportFormatError(
                self._source, start, f"unknown language {given[:20]!r} (use a code such as en, sw)"
            )
        return code

    def _record(
        self, entry_id: str, question: str, answer: str, category: str, start: int, language: str
    ) -> None:
        if entry_id not in self._first_line:
            self._first_line[entry_id] = start
            self._questions[entry_id] = []
        # An entry's first question in each language names it in that language.
        self._question_in.setdefault(entry_id, {}).setdefault(language, question)
        if answer and self._languages.setdefault(entry_id, language) != language:
            self._translate(entry_id, question, language, answer, start)
        elif answer:
            self._check_same(self._answers, "answer", entry_id, question, answer, start)
            self._answers.setdefault(entry_id, (answer, start))
        if category:
            self._check_same(self._categories, "category", entry_id, question, category, start)
            self._categories.setdefault(entry_id, (category, start))
        key = (entry_id, normalise_question(question))
        if key in self._seen_phrasing:
            return
        self._seen_phrasing[key] = start
        self._questions[entry_id].append(question)

    def _translate(self, entry_id: str, question: str, code: str, text: str, start: int) -> None:
        given = self._translations.setdefault(entry_id, {})
        self._check_same(
            {entry_id: given[code]} if code in given else {},
            f"answer in {code}",
            entry_id,
            question,
            text,
            start,
        )
        given.setdefault(code, (text, start))

    def _check_same(
        self,
        given: Mapping[str, tuple[str | None, int]],
        what: str,
        entry_id: str,
        question: str,
        value: str,
        start: int,
    ) -> None:
        if entry_id in given and given[entry_id][0] != value:
            raise ImportFormatError(
                self._source,
                start,
                f"entry {_describe(entry_id, question, self._has_id)} has a different {what} "
                f"on line {given[entry_id][1]}",
            )

    def drafts(self) -> tuple[EntryDraft, ...]:
        if not self._first_line:
            raise ImportFormatError(self._source, 0, "the file has no entries")
        drafts = []
        for entry_id, line_no in self._first_line.items():
            if entry_id not in self._answers:
                question = self._questions[entry_id][0]
                raise ImportFormatError(
                    self._source,
                    line_no,
                    f"entry {_describe(entry_id, question, self._has_id)} has no answer",
                )
            drafts.append(
                EntryDraft(
                    external_id=entry_id,
                    questions=tuple(self._questions[entry_id]),
                    answer=self._answers[entry_id][0],
                    category=self._categories.get(entry_id, (None, 0))[0],
                    line=line_no,
                    language=self._languages.get(entry_id, "en"),
                    translations=self._translations_of(entry_id),
                    question_translations=self._questions_in(entry_id),
                )
            )
        return tuple(drafts)

    def _questions_in(self, entry_id: str) -> tuple[tuple[str, str], ...]:
        primary = self._languages.get(entry_id, "en")
        given = self._question_in.get(entry_id, {})
        return tuple(sorted((c, q) for c, q in given.items() if c != primary))

    def _translations_of(self, entry_id: str) -> tuple[tuple[str, str], ...]:
        primary = self._languages.get(entry_id, "en")
        given = self._translations.get(entry_id, {})
        return tuple(sorted((c, t) for c, (t, _) in given.items() if c != primary))


def _describe(entry_id: str, question: str, has_id: bool) -> str:
    return repr(entry_id) if has_id else repr(question[:60])


def parse_markdown(data: bytes, source: str) -> ParsedDocument:
    text = _decode(data, source)
    lines = text.splitlines()
    tokens = MarkdownIt("commonmark").parse(text)
    headings: list[tuple[int, int, int, str]] = []  # (level, first line, end line, text)
    for i, token in enumerate(tokens):
        if token.type == "heading_open" and token.map is not None:
            level = int(token.tag[1:])
            inline = tokens[i + 1]
            headings.append((level, token.map[0], token.map[1], inline.content.strip()))

    drafts: list[EntryDraft] = []
    seen: dict[str, int] = {}
    category: str | None = None
    boundaries = [(lvl, start) for lvl, start, _, _ in headings if lvl <= 2] + [(0, len(lines))]
    for level, start, end, title in headings:
        if level == 1:
            category = title or None
            continue
        if level != 2:
            continue
        line_no = start + 1
        if not title:
            raise ImportFormatError(source, line_no, "a ## heading has no question text")
        if len(title) > MAX_QUESTION_CHARS:
            raise ImportFormatError(
                source, line_no, f"the question is longer than {MAX_QUESTION_CHARS} characters"
            )
        next_start = min(s for lvl, s in boundaries if s > start or lvl == 0)
        answer = "\n".join(lines[end:next_start]).strip()
        if not answer:
            raise ImportFormatError(
                source, line_no, f"the question {title[:60]!r} has no answer under it"
            )
        if len(answer) > MAX_ANSWER_CHARS:
            raise ImportFormatError(
                source, line_no, f"the answer is longer than {MAX_ANSWER_CHARS} characters"
            )
        key = question_key(title)
        if key in seen:
            raise ImportFormatError(
                source,
                line_no,
                f"the question {title[:60]!r} was already asked on line {seen[key]}",
            )
        seen[key] = line_no
        drafts.append(EntryDraft(key, (title,), answer, category, line_no))
    if not drafts:
        raise ImportFormatError(source, 0, "no '## question' headings found")
    return ParsedDocument(source, tuple(drafts))

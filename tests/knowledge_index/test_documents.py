"""Reading FAQ files: what is accepted, and malformed files refused with the line at fault."""

from __future__ import annotations

from pathlib import Path

import pytest

from imaradesk.knowledge_index.documents import (
    SUPPORTED_EXTENSIONS,
    ImportFormatError,
    media_type_of,
    parse_bytes,
    parse_csv,
    parse_file,
    parse_markdown,
)


def test_rows_sharing_an_id_are_one_entry_with_several_phrasings() -> None:
    doc = parse_csv(
        b"id,question,answer,category\n"
        b"pin,How do I reset my PIN?,Dial *483*7#.,Security\n"
        b"pin,I forgot my PIN,,\n"
        b"pin,i forgot my pin?,,\n"
        b"fees,What are the fees?,See the tariff.,Fees\n",
        "faq.csv",
    )
    assert [d.external_id for d in doc.drafts] == ["pin", "fees"]
    pin = doc.drafts[0]
    assert pin.questions == (
        "How do I reset my PIN?",
        "I forgot my PIN",
    )  # the near-duplicate folds
    assert (pin.answer, pin.category, pin.line) == ("Dial *483*7#.", "Security", 2)


def test_without_id_each_question_is_an_entry_with_a_stable_key() -> None:
    a = parse_csv(b"question,answer\nHow do I pay?,Use paybill.\n", "x.csv")
    b = parse_csv("\ufeffQuestion , Answer\n how do I pay ,Use paybill.\n".encode(), "x.csv")
    assert a.drafts[0].external_id == b.drafts[0].external_id
    assert a.drafts[0].external_id.startswith("q:")


def test_quoted_multiline_answers_and_commas() -> None:
    doc = parse_csv(b'question,answer\n"Fees, please?","Line one,\nline two"\nNext?,Yes\n', "x.csv")
    assert doc.drafts[0].answer == "Line one,\nline two"
    assert doc.drafts[1].line == 4


@pytest.mark.parametrize(
    ("content", "line", "message"),
    [
        (b"", 0, "empty"),
        (b"q,a\nx,y\n", 1, "question and answer"),
        (b"question,answer,answer\nx,y,z\n", 1, "duplicate column"),
        (b"question,answer\nok,fine\n,no question\n", 3, "question is empty"),
        (b"question,answer\nok,fine\nhas,too,many\n", 3, "expected 2 fields"),
        (b"id,question,answer\na,Q1,A1\n,Q2,A2\n", 3, "id is empty"),
        (b"id,question,answer\na,Q1,A1\na,Q2,Different\n", 3, "different answer"),
        (b"id,question,answer\na,Q1,\na,Q2,\n", 2, "no answer"),
        (b"question,answer\nok,fine\nnothing here,\n", 3, "no answer"),
        (b'question,answer\nok,fine\n"unterminated,oops\n', 3, "malformed CSV"),
        (b"question,answer\nok,caf\xe9\n", 2, "UTF-8"),
        (b"question,answer\n", 0, "no entries"),
    ],
)
def test_malformed_csv_is_refused_with_its_line(content: bytes, line: int, message: str) -> None:
    with pytest.raises(ImportFormatError, match=message) as caught:
        parse_csv(content, "faq.csv")
    assert caught.value.line == line
    assert str(caught.value).startswith(f"faq.csv, line {line}" if line else "faq.csv")


MARKDOWN = """# Payments

Some intro text that is not an answer.

## How do I send money?

Choose **Send Money**.

### Limits

Up to KES 150,000.

## How do I pay a bill?
Use Pay Bill.

```
## not a heading inside code
```

# Security

## I lost my phone
Call us.
"""


def test_markdown_headings_become_entries_with_sections_and_categories() -> None:
    doc = parse_markdown(MARKDOWN.encode(), "faq.md")
    assert [d.questions[0] for d in doc.drafts] == [
        "How do I send money?",
        "How do I pay a bill?",
        "I lost my phone",
    ]
    send, bill, lost = doc.drafts
    assert "### Limits" in send.answer and "150,000" in send.answer
    assert "## not a heading inside code" in bill.answer
    assert (send.category, lost.category) == ("Payments", "Security")
    assert send.line == 5


@pytest.mark.parametrize(
    ("content", "line", "message"),
    [
        ("# Only a title\n\nText.\n", 0, "no '## question'"),
        ("## Empty?\n\n## Next?\nAnswer\n", 1, "no answer"),
        ("## Same?\nA\n\n## same\nB\n", 4, "already asked on line 1"),
    ],
)
def test_malformed_markdown_is_refused_with_its_line(content: str, line: int, message: str) -> None:
    with pytest.raises(ImportFormatError, match=message) as caught:
        parse_markdown(content.encode(), "faq.md")
    assert caught.value.line == line


def test_unsupported_extension_is_refused(tmp_path: Path) -> None:
    """An extension outside SUPPORTED_EXTENSIONS is refused, naming the ones accepted."""
    path = tmp_path / "faq.xlsx"
    path.write_bytes(b"PK")
    with pytest.raises(
        ImportFormatError, match=r"unsupported file type \.xlsx: use one of .*\.docx"
    ):
        parse_file(path)
    with pytest.raises(ImportFormatError, match=r"unsupported file type \(none\)"):
        parse_bytes("README", b"text")


def test_parse_bytes_reads_csv_and_faq_markdown_as_before() -> None:
    """The upload path gives the same entries as the format's own parser, and says it is done."""
    calls: list[tuple[int, int]] = []
    csv_data = b"question,answer\nHow do I pay?,Use paybill.\n"
    doc = parse_bytes("FAQ.CSV", csv_data, progress=lambda *a: calls.append(a))
    assert doc == parse_csv(csv_data, "FAQ.CSV")
    assert calls == [(1, 1)]
    assert parse_bytes("faq.md", MARKDOWN.encode()) == parse_markdown(MARKDOWN.encode(), "faq.md")


def test_faq_markdown_errors_still_name_their_line() -> None:
    """A Markdown FAQ (its ## headings are questions) keeps the FAQ reader's refusals."""
    with pytest.raises(ImportFormatError, match="no answer") as caught:
        parse_bytes("faq.md", b"## Empty?\n\n## Next?\nAnswer\n")
    assert caught.value.line == 1


def test_upload_names_lose_their_directories() -> None:
    """A browser's "C:\\fakepath\\" or a relative path never becomes part of the source."""
    csv_data = b"question,answer\nHow do I pay?,Use paybill.\n"
    assert parse_bytes("C:\\fakepath\\faq.csv", csv_data).source == "faq.csv"
    assert parse_bytes("../../etc/faq.csv", csv_data).source == "faq.csv"


def test_every_supported_extension_has_a_media_type() -> None:
    assert SUPPORTED_EXTENSIONS == (
        ".csv",
        ".md",
        ".markdown",
        ".html",
        ".htm",
        ".txt",
        ".pdf",
        ".docx",
    )
    assert all(
        media_type_of(f"x{ext}") != "application/octet-stream" for ext in SUPPORTED_EXTENSIONS
    )
    assert media_type_of("Report.PDF") == "application/pdf"
    assert media_type_of("x.docx").endswith("wordprocessingml.document")
    assert media_type_of("x.exe") == "application/octet-stream"


def test_empty_upload_is_refused_whatever_its_type() -> None:
    for name in ("a.csv", "a.md", "a.pdf", "a.docx", "a.html"):
        with pytest.raises(ImportFormatError, match="the file is empty"):
            parse_bytes(name, b"")

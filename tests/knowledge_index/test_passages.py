"""Reading prose documents into passages: real PDF, DOCX, HTML and text files built here."""

from __future__ import annotations

import io
import random
import zipfile

import docx
import pytest
from fpdf import FPDF

from imaradesk.knowledge_index.documents import (
    MAX_FILE_BYTES,
    ImportFormatError,
    is_faq_markdown,
    parse_bytes,
)
from imaradesk.knowledge_index.passages import (
    MAX_PASSAGE_CHARS,
    MAX_WORDS,
    MIN_WORDS,
    Section,
    split_passages,
    split_sentences,
)
from imaradesk.storage.db import Database
from imaradesk.storage.repositories import OrgData

_VOCABULARY = (
    "agent wallet transfer balance customer account statement reversal limit till paybill "
    "merchant receipt network branch airtime savings loan interest fee number message code "
    "confirmation weekend holiday service charge deposit withdrawal member school hospital"
).split()


def prose(seed: int, sentences: int) -> str:
    """Deterministic sentences of 8-20 words, each ending with a full stop."""
    rng = random.Random(seed)
    out = []
    for _ in range(sentences):
        words = [rng.choice(_VOCABULARY) for _ in range(rng.randint(8, 20))]
        out.append(" ".join(words).capitalize() + ".")
    return " ".join(out)


class HandbookPdf(FPDF):
    """A PDF with a running header and a "Page N of M" footer, as real handbooks have."""

    def header(self) -> None:
        self.set_font("Helvetica", size=8)
        self.cell(0, 6, "Imara Pesa Customer Handbook", new_x="LMARGIN", new_y="NEXT")

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", size=8)
        self.cell(0, 6, f"Page {self.page_no()} of {{nb}}", align="C")


def build_pdf(pages: list[list[tuple[str, str]]], *, outline: bool = True) -> bytes:
    """Each page is a list of ("h1" | "h2" | "p", text); headings go into the outline."""
    pdf = HandbookPdf()
    pdf.set_auto_page_break(False)
    for page in pages:
        pdf.add_page()
        for kind, text in page:
            if kind == "p":
                pdf.set_font("Helvetica", size=10)
                pdf.multi_cell(0, 5, text, new_x="LMARGIN", new_y="NEXT")
                pdf.ln(3)
                continue
            if outline:
                pdf.start_section(text, level=int(kind[1]) - 1)
            pdf.set_font("Helvetica", "B", 14 if kind == "h1" else 12)
            pdf.cell(0, 9, text, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def build_docx(blocks: list[tuple[str, object]]) -> bytes:
    document = docx.Document()
    for kind, value in blocks:
        if kind == "title":
            document.add_heading(str(value), 0)
        elif kind.startswith("h"):
            document.add_heading(str(value), int(kind[1]))
        elif kind == "table":
            rows = value
            table = document.add_table(rows=len(rows), cols=len(rows[0]))  # type: ignore[arg-type]
            for r, row in enumerate(rows):  # type: ignore[arg-type]
                for c, text in enumerate(row):
                    table.cell(r, c).text = text
        else:
            document.add_paragraph(str(value))
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def words(text: str) -> list[str]:
    return text.split()


# -- sentences ---------------------------------------------------------------------------------


def test_sentences_keep_abbreviations_initials_and_decimals_whole() -> None:
    """Full stops inside "Dr.", "J.", "e.g.", "12.50" and "p.m." do not end a sentence."""
    text = (
        "Dr. Kamau sent KES 12.50 to Mr. J. Otieno, e.g. through the app. It worked! "
        'Did it really? "Yes," she said. See Fig. 3 for details (No. 7 in the list). '
        "The office closes at 5 p.m. on Fridays. We sell airtime, data etc. Cards too."
    )
    assert split_sentences(text) == [
        "Dr. Kamau sent KES 12.50 to Mr. J. Otieno, e.g. through the app.",
        "It worked!",
        "Did it really?",
        '"Yes," she said.',
        "See Fig. 3 for details (No. 7 in the list).",
        "The office closes at 5 p.m. on Fridays.",
        "We sell airtime, data etc.",
        "Cards too.",
    ]


def test_sentence_closing_quotes_and_brackets_stay_with_their_sentence() -> None:
    """A quote or bracket after the full stop belongs to the sentence it closes."""
    assert split_sentences('He said "pay now." Then he left. (It was late.) Fine.') == [
        'He said "pay now."',
        "Then he left.",
        "(It was late.)",
        "Fine.",
    ]


# -- splitting ---------------------------------------------------------------------------------


def test_passages_are_bounded_and_never_cut_a_sentence() -> None:
    """Every passage is 60-180 words, ends a sentence, and together they are the text."""
    text = prose(1, 120)
    drafts = split_passages([Section(("Guide",), (text,))], "guide.txt")
    assert len(drafts) > 5
    for draft in drafts:
        assert MIN_WORDS <= len(words(draft.answer)) <= MAX_WORDS, draft.answer
        assert draft.answer.endswith(".")
    assert " ".join(d.answer for d in drafts) == text
    sentences = set(split_sentences(text))
    for draft in drafts:
        assert set(split_sentences(draft.answer)) <= sentences, "no sentence was cut"


def test_paragraph_ends_are_preferred_cut_points() -> None:
    """Paragraphs of 70-100 words each become a passage of their own."""
    paragraphs = tuple(prose(seed, 6) for seed in range(8))
    assert all(MIN_WORDS <= len(words(p)) <= MAX_WORDS for p in paragraphs)
    drafts = split_passages([Section((), paragraphs)], "notes.txt")
    assert [d.answer for d in drafts] == list(paragraphs)


def test_a_short_tail_joins_the_passage_before_it() -> None:
    """A last piece under 60 words is added to the previous passage when it fits."""
    long_paragraph, tail = prose(2, 7), "Thank you for reading."
    drafts = split_passages([Section((), (long_paragraph, tail))], "x.txt")
    assert [d.answer for d in drafts] == [f"{long_paragraph}\n{tail}"]


def test_a_very_long_sentence_is_cut_between_words() -> None:
    """A 500-word sentence without punctuation is cut into pieces of at most 180 whole words."""
    rng = random.Random(3)
    sentence = " ".join(rng.choice(_VOCABULARY) for _ in range(500))
    drafts = split_passages([Section((), (sentence,))], "x.txt")
    assert len(drafts) == 3
    assert all(len(words(d.answer)) <= MAX_WORDS for d in drafts)
    assert " ".join(d.answer for d in drafts) == sentence, "no word was split or lost"


def test_a_word_longer_than_a_passage_is_cut_by_characters() -> None:
    """A 5,000-character run without spaces cannot make a passage over the character bound."""
    rng = random.Random(4)
    blob = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/") for _ in range(5000))
    drafts = split_passages([Section((), (f"Key: {blob} end.",))], "x.txt")
    assert all(len(d.answer) <= MAX_PASSAGE_CHARS for d in drafts)
    assert "".join(d.answer.replace(" ", "") for d in drafts) == f"Key:{blob}end."


def test_passage_draft_fields_for_citations() -> None:
    """Kind, phrasing (heading path + text), answer, category, location and line."""
    sections = [
        Section(("Fees", "Sending"), ("Sending up to KES 100 is free.",)),
        Section(("Fees", "Limits"), ("The daily limit is KES 300,000.",), page=4),
    ]
    first, second = split_passages(sections, "handbook.pdf")
    assert first.kind == "passage"
    assert first.questions == ("Fees > Sending\nSending up to KES 100 is free.",)
    assert first.answer == "Sending up to KES 100 is free."
    assert (first.category, first.location, first.line) == ("Fees", "Fees > Sending", 1)
    assert (second.location, second.line) == ("page 4, Fees > Limits", 2)
    assert second.external_id.endswith(":p4-1")


def test_identical_passages_are_kept_once() -> None:
    """A disclaimer repeated under the same heading is one entry, not many."""
    sections = [Section(("Legal",), ("Terms apply.",), page=n) for n in range(1, 4)]
    assert len(split_passages(sections, "x.pdf")) == 1


# -- stable ids --------------------------------------------------------------------------------

HTML_V1 = (
    f"""<h1>Wallet</h1><h2>Fees</h2><p>{prose(10, 8)}</p><h2>Limits</h2><p>{prose(11, 8)}</p>"""
)


def test_ids_are_stable_across_uploads_and_distinct_across_files() -> None:
    """The same file gives the same ids; a file of another name gets ids of its own."""
    a = parse_bytes("wallet.html", HTML_V1.encode())
    b = parse_bytes("wallet.html", HTML_V1.encode())
    other = parse_bytes("other.html", HTML_V1.encode())
    assert [d.external_id for d in a.drafts] == [d.external_id for d in b.drafts]
    assert not {d.external_id for d in a.drafts} & {d.external_id for d in other.drafts}
    assert len({d.external_id for d in a.drafts}) == len(a.drafts)


def test_editing_one_section_keeps_the_ids_of_the_others() -> None:
    """A section added at the top does not shift the ids of the sections after it."""
    before = parse_bytes("wallet.html", HTML_V1.encode())
    edited = HTML_V1.replace("<h2>Fees</h2>", f"<h2>News</h2><p>{prose(12, 8)}</p><h2>Fees</h2>")
    after = parse_bytes("wallet.html", edited.encode())
    old = {d.external_id: d.answer for d in before.drafts}
    new = {d.external_id: d.answer for d in after.drafts}
    assert len(new) == len(old) + 1
    assert all(new[key] == answer for key, answer in old.items())


# -- HTML, Markdown, text ----------------------------------------------------------------------


def test_html_sections_follow_headings_and_drop_scripts_styles_and_navigation() -> None:
    """h1-h6 give heading paths; script, style and nav text never reaches a passage."""
    html = """<!doctype html><html><head><title>Help</title><style>p {color: red}</style></head>
    <body><nav><a href="/">Home</a> <a href="/fees">Fees menu</a></nav>
    <h1>Imara Pesa help</h1><p>Welcome to the <b>help</b> pages.</p>
    <h2>Fees</h2><p>Sending up to KES 100 is free.</p>
    <table><tr><th>Amount</th><th>Fee</th></tr><tr><td>101-500</td><td>KES 7</td></tr></table>
    <h3>Agents</h3><ul><li>Withdrawals cost KES 29.</li><li>Deposits are free.</li></ul>
    <h2>Limits</h2><div>The daily limit is KES 300,000.<p>Nested paragraph.</p>After it.</div>
    <script>var secret = "do not index";</script><!-- a comment --></body></html>"""
    doc = parse_bytes("help.html", html.encode())
    got = [(d.location, d.answer) for d in doc.drafts]
    assert got == [
        ("Imara Pesa help", "Welcome to the help pages."),
        ("Imara Pesa help > Fees", "Sending up to KES 100 is free.\nAmount | Fee\n101-500 | KES 7"),
        (
            "Imara Pesa help > Fees > Agents",
            "Withdrawals cost KES 29.\nDeposits are free.",
        ),
        (
            "Imara Pesa help > Limits",
            "The daily limit is KES 300,000.\nNested paragraph.\nAfter it.",
        ),
    ]
    assert {d.category for d in doc.drafts} == {"Imara Pesa help"}
    everything = " ".join(d.questions[0] for d in doc.drafts)
    assert "menu" not in everything and "secret" not in everything and "color" not in everything


def test_html_declared_encoding_is_honoured() -> None:
    """A windows-1252 page with <meta charset> is read in its own encoding."""
    html = '<meta charset="windows-1252"><p>Caf\u00e9 opening hours \u2013 8 to 5.</p>'
    doc = parse_bytes("cafe.htm", html.encode("cp1252"))
    assert doc.drafts[0].answer == "Caf\u00e9 opening hours \u2013 8 to 5."


def test_markdown_prose_is_split_into_passages_under_its_headings() -> None:
    """Markdown whose ## headings are statements is prose: passages with heading paths."""
    text = (
        "# Wallet guide\n\nAn *introduction* to the wallet.\n\n## Opening hours\n\n"
        "We are open from 8 to 5.\n\n### Holidays\n\nClosed on public holidays.\n\n"
        "## Fees\n\n| Amount | Fee |\n|---|---|\n| 100 | 0 |\n"
    )
    assert not is_faq_markdown(text)
    doc = parse_bytes("guide.md", text.encode())
    assert [(d.kind, d.location, d.answer) for d in doc.drafts] == [
        ("passage", "Wallet guide", "An introduction to the wallet."),
        ("passage", "Wallet guide > Opening hours", "We are open from 8 to 5."),
        ("passage", "Wallet guide > Opening hours > Holidays", "Closed on public holidays."),
        ("passage", "Wallet guide > Fees", "Amount | Fee\n100 | 0"),
    ]


@pytest.mark.parametrize(
    ("headings", "faq"),
    [
        (["How do I pay?", "I lost my phone"], True),  # half are questions: FAQ
        (["How do I pay?", "Where are you?", "Opening hours"], True),
        (["How do I pay?", "Opening hours", "Fees"], False),  # a minority: prose
        ([], False),  # no ## headings at all: prose
    ],
)
def test_markdown_is_an_faq_when_half_its_level_two_headings_are_questions(
    headings: list[str], faq: bool
) -> None:
    """The documented rule, at its boundary, and what parse_bytes makes of each side."""
    text = "# Help\n\nIntro.\n\n" + "".join(f"## {h}\n\nAnswer to {h}.\n\n" for h in headings)
    assert is_faq_markdown(text) is faq
    doc = parse_bytes("help.md", text.encode())
    assert {d.kind for d in doc.drafts} == {"faq" if faq else "passage"}


def test_plain_text_paragraphs_and_utf16() -> None:
    """Blank lines separate paragraphs; a UTF-16 file with its byte-order mark is read too."""
    text = "Karibu!\nWe open at 8.\n\n\nWe close at 5.\n"
    doc = parse_bytes("hours.txt", text.encode())
    assert [d.answer for d in doc.drafts] == ["Karibu! We open at 8.\nWe close at 5."]
    assert doc.drafts[0].location is None and doc.drafts[0].category is None
    assert parse_bytes("hours.txt", text.encode("utf-16")).drafts == doc.drafts


def test_text_that_is_not_utf8_is_refused_with_its_line() -> None:
    """Latin-1 bytes are named as not UTF-8 (no silent mojibake), with the line at fault."""
    with pytest.raises(ImportFormatError, match="not valid UTF-8") as caught:
        parse_bytes("menu.txt", "Tea.\nCaf\u00e9 latte.\n".encode("latin-1"))
    assert caught.value.line == 2


def test_binary_named_txt_is_refused() -> None:
    with pytest.raises(ImportFormatError, match="binary file"):
        parse_bytes("data.txt", b"abc\x00\x01\x02 more")


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("blank.txt", b"  \n\n \t"),
        ("blank.html", b"<html><body><script>x()</script><nav>Menu</nav></body></html>"),
        ("blank.md", b"# Only a title\n"),
    ],
)
def test_documents_without_text_are_refused(name: str, data: bytes) -> None:
    """Whitespace, or only markup with nothing to read, is refused rather than imported empty."""
    with pytest.raises(ImportFormatError, match="empty|no text found"):
        parse_bytes(name, data)


# -- PDF ---------------------------------------------------------------------------------------


def handbook_pages() -> list[list[tuple[str, str]]]:
    return [
        [("h1", "Sending money"), ("p", prose(20, 6)), ("p", prose(21, 6))],
        [("p", prose(22, 5)), ("h2", "Fees"), ("p", prose(23, 6))],
        [("h1", "Safety"), ("p", prose(24, 4))],
    ]


def test_pdf_passages_carry_page_and_heading_and_progress_is_per_page() -> None:
    """Pages and outline headings give locations; ids follow pages; progress counts pages."""
    calls: list[tuple[int, int]] = []
    doc = parse_bytes(
        "handbook.pdf", build_pdf(handbook_pages()), progress=lambda *a: calls.append(a)
    )
    assert calls == [(1, 3), (2, 3), (3, 3)]
    assert doc.pages == 3
    located = [(d.external_id.split(":")[1], d.location, d.category) for d in doc.drafts]
    assert located == [
        ("p1-1", "page 1, Sending money", "Sending money"),
        ("p1-2", "page 1, Sending money", "Sending money"),
        ("p2-1", "page 2, Sending money", "Sending money"),
        ("p2-2", "page 2, Sending money > Fees", "Sending money"),
        ("p3-1", "page 3, Safety", "Safety"),
    ]
    # The text is read back word for word, headings and page furniture apart.
    assert doc.drafts[0].answer == prose(20, 6)
    assert doc.drafts[3].answer == prose(23, 6)
    assert doc.drafts[3].questions[0].startswith("Sending money > Fees\n")


def test_pdf_running_header_footer_and_page_numbers_are_dropped() -> None:
    """Neither the repeated header nor "Page N of M" ends up in a passage."""
    doc = parse_bytes("handbook.pdf", build_pdf(handbook_pages()))
    text = " ".join(d.answer for d in doc.drafts)
    assert "Handbook" not in text and "Page" not in text and " of 3" not in text


def test_pdf_sentence_over_a_page_break_stays_whole_on_its_first_page() -> None:
    """A sentence cut by the page break is one sentence, cited on the page where it starts."""
    start = prose(30, 6)
    pages = [
        [("h1", "Transfers"), ("p", f"{start} The fee for sending money across")],
        [("p", "the border is KES 50 per transfer. Refunds take two days.")],
        [("p", prose(31, 2))],
    ]
    doc = parse_bytes("x.pdf", build_pdf(pages, outline=False))
    first, second = doc.drafts[0], doc.drafts[1]
    assert first.location == "page 1"
    assert first.answer.endswith("across the border is KES 50 per transfer.")
    assert second.location == "page 2"
    assert second.answer == "Refunds take two days."


def test_pdf_without_outline_is_located_by_page_alone() -> None:
    doc = parse_bytes("x.pdf", build_pdf(handbook_pages(), outline=False))
    assert [d.location for d in doc.drafts][:2] == ["page 1", "page 1"]
    assert all(d.category is None for d in doc.drafts)


def test_pdf_with_a_user_password_is_refused_and_owner_only_is_read() -> None:
    """A PDF that needs a password to open says so; one with only an owner password is read."""
    locked = FPDF()
    locked.add_page()
    locked.set_font("Helvetica", size=10)
    locked.cell(0, 10, "Secret salary table.")
    locked.set_encryption(owner_password="owner", user_password="reader")
    with pytest.raises(ImportFormatError, match="encrypted with a password"):
        parse_bytes("locked.pdf", bytes(locked.output()))

    restricted = FPDF()
    restricted.add_page()
    restricted.set_font("Helvetica", size=10)
    restricted.cell(0, 10, "Printing is not allowed but reading is.")
    restricted.set_encryption(owner_password="owner")
    doc = parse_bytes("restricted.pdf", bytes(restricted.output()))
    assert doc.drafts[0].answer == "Printing is not allowed but reading is."


def test_pdf_without_a_text_layer_is_refused_as_a_scan() -> None:
    """Pages with only drawings (as a scanned image would be) give "no text layer"."""
    pdf = FPDF()
    for _ in range(2):
        pdf.add_page()
        pdf.rect(20, 20, 100, 150, style="F")
    with pytest.raises(ImportFormatError, match="no text layer"):
        parse_bytes("scan.pdf", bytes(pdf.output()))


@pytest.mark.parametrize(
    "data",
    [
        random.Random(5).randbytes(3000),
        b"%PDF-1.7\n" + random.Random(6).randbytes(3000),
        b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n",
    ],
    ids=["random-bytes", "pdf-header-then-garbage", "catalog-without-pages"],
)
def test_broken_pdf_fails_alone_with_a_clear_reason(data: bytes) -> None:
    """Damage raises ImportFormatError naming the file, never pypdf's own exception."""
    with pytest.raises(ImportFormatError, match=r"^broken\.pdf: .*(not a readable PDF|cannot be)"):
        parse_bytes("broken.pdf", data)


# -- DOCX --------------------------------------------------------------------------------------


def test_docx_heading_styles_make_sections_and_tables_are_read_by_row() -> None:
    """Title and Heading 1-2 give the heading path; table rows are cells joined by " | "."""
    data = build_docx(
        [
            ("title", "Imara Pesa handbook"),
            ("p", "Read this first."),
            ("h1", "Fees"),
            ("p", "Sending money costs a small fee."),
            ("table", [["Amount", "Fee"], ["1-100", "Free"], ["101-500", "KES 7"]]),
            ("h2", "Agents"),
            ("p", "Withdrawals at an agent cost KES 29."),
            ("h1", "Safety"),
            ("p", "Never share your PIN."),
        ]
    )
    doc = parse_bytes("handbook.docx", data)
    assert [(d.location, d.answer) for d in doc.drafts] == [
        ("Imara Pesa handbook", "Read this first."),
        (
            "Imara Pesa handbook > Fees",
            "Sending money costs a small fee.\nAmount | Fee\n1-100 | Free\n101-500 | KES 7",
        ),
        ("Imara Pesa handbook > Fees > Agents", "Withdrawals at an agent cost KES 29."),
        ("Imara Pesa handbook > Safety", "Never share your PIN."),
    ]


def test_docx_merged_cells_are_read_once() -> None:
    document = docx.Document()
    table = document.add_table(rows=1, cols=3)
    table.cell(0, 0).text = "Note"
    table.cell(0, 1).merge(table.cell(0, 2)).text = "Applies to all agents."
    buffer = io.BytesIO()
    document.save(buffer)
    doc = parse_bytes("t.docx", buffer.getvalue())
    assert doc.drafts[0].answer == "Note | Applies to all agents."


def zip_of(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "data",
    [
        random.Random(7).randbytes(3000),
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(2000),  # an old binary .doc
        zip_of({"hello.txt": b"not a word document"}),
        zip_of({"[Content_Types].xml": b"<Types", "word/document.xml": b"<w:document"}),
    ],
    ids=["random-bytes", "old-doc", "zip-without-document", "broken-xml"],
)
def test_broken_docx_fails_alone_with_a_clear_reason(data: bytes) -> None:
    with pytest.raises(ImportFormatError, match=r"^broken\.docx: not a readable Word document"):
        parse_bytes("broken.docx", data)


# -- types and limits --------------------------------------------------------------------------


def test_wrong_extension_is_judged_by_the_content_it_claims() -> None:
    """A Word file named .pdf is not a readable PDF, and a PDF named .docx is no Word file."""
    word = build_docx([("p", "Hello there.")])
    pdf = build_pdf([[("p", "Hello there.")]])
    with pytest.raises(ImportFormatError, match="not a readable PDF"):
        parse_bytes("letter.pdf", word)
    with pytest.raises(ImportFormatError, match="not a readable Word document"):
        parse_bytes("letter.docx", pdf)
    with pytest.raises(ImportFormatError, match="not valid UTF-8"):
        parse_bytes("letter.txt", pdf)


def test_files_over_the_size_limit_are_refused_before_reading() -> None:
    with pytest.raises(ImportFormatError, match="larger than 50 MiB"):
        parse_bytes("huge.txt", b"a" * (MAX_FILE_BYTES + 1))


# -- into the knowledge base -------------------------------------------------------------------


def test_reuploading_a_pdf_updates_its_passages_instead_of_duplicating(
    make_services, database: Database
) -> None:
    """Through the real KnowledgeBase: same file twice, then a second file beside it."""
    services = make_services(database)
    org = services.organizations.create("acme", name="Acme")
    data = build_pdf(handbook_pages())
    first = services.knowledge.import_documents(org.id, [parse_bytes("handbook.pdf", data)])
    again = services.knowledge.import_documents(org.id, [parse_bytes("handbook.pdf", data)])
    assert first.change.created == 5
    assert (again.change.created, again.change.updated, again.change.unchanged) == (0, 0, 5)
    other = services.knowledge.import_documents(org.id, [parse_bytes("copy.pdf", data)])
    assert (other.change.created, other.change.removed) == (5, 0), "files do not share ids"
    with database.read() as session:
        entries = OrgData(session, org.id).entries()
    assert len(entries) == 10
    assert {e.kind for e in entries} == {"passage"}
    assert {e.location for e in entries if e.source == "handbook.pdf"} >= {
        "page 2, Sending money > Fees"
    }

"""Uploads are read in a child process under limits: a document built to cost without end is
stopped with a clear reason, deleting it stops the work at once, and the service's own process
never does the parsing (a thread could be neither limited nor cancelled)."""

from __future__ import annotations

import io
import threading
import time
import zipfile

import pytest

from imaradesk.knowledge_index.errors import ImportFormatError
from imaradesk.knowledge_index.parse_sandbox import ParseLimits, parse_isolated
from imaradesk.storage.db import Database
from tests.helpers import seed_org

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
    'package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.'
    'openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="'
    'application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.'
    'openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats'
    '.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.'
    'openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="word/document.xml"/></Relationships>'
)


def costly_docx(paragraphs: int) -> bytes:
    """A small DOCX of very many tiny paragraphs: a few hundred KB that costs minutes to read."""
    body = '<w:p><w:r><w:t xml:space="preserve">Lipa na M-Pesa. </w:t></w:r></w:p>' * paragraphs
    document = (
        '<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.'
        'openxmlformats.org/wordprocessingml/2006/main"><w:body>' + body + "</w:body></w:document>"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("_rels/.rels", _RELS)
        archive.writestr("word/document.xml", document)
    return buffer.getvalue()


def test_a_small_file_is_read_in_the_child_and_comes_back_whole() -> None:
    csv = b"question,answer\nNinawezaje kuangalia salio?,Piga *483*1#\n"
    parsed = parse_isolated("faq.csv", csv, limits=ParseLimits(seconds=30))
    assert [d.answer for d in parsed.drafts] == ["Piga *483*1#"]
    with pytest.raises(ImportFormatError, match="no entries"):
        parse_isolated("faq.csv", b"question,answer\n,\n", limits=ParseLimits(seconds=30))


def test_a_document_that_takes_too_long_is_stopped_with_its_reason() -> None:
    bomb = costly_docx(400_000)  # under the unpacked-text limit: only its cost gives it away
    assert len(bomb) < 1_000_000, "small on the wire"
    started = time.monotonic()
    with pytest.raises(ImportFormatError, match="longer than 2 seconds"):
        parse_isolated("handbook.docx", bomb, limits=ParseLimits(seconds=2))
    assert time.monotonic() - started < 10, "stopped at its deadline, not when it finished"


def test_a_document_whose_text_unpacks_too_far_is_refused_before_it_is_read() -> None:
    bomb = costly_docx(600_000)  # ~40 MiB of XML from under 1 MB
    started = time.monotonic()
    with pytest.raises(ImportFormatError, match="unpacks to more than 32 MiB"):
        parse_isolated("handbook.docx", bomb, limits=ParseLimits(seconds=60))
    assert time.monotonic() - started < 10


def test_a_child_over_its_memory_limit_fails_alone() -> None:
    """Under a tight address-space limit the child cannot read the file; the refusal comes back
    and this process (the service) is untouched."""
    with pytest.raises(ImportFormatError):
        parse_isolated(
            "handbook.docx",
            costly_docx(400_000),
            limits=ParseLimits(seconds=60, memory_bytes=200 * 2**20),
        )
    csv = b"question,answer\nHabari?,Nzuri\n"
    assert parse_isolated("faq.csv", csv, limits=ParseLimits(seconds=30)).drafts


def test_deleting_a_document_stops_its_reading(make_services, sqlite_database: Database) -> None:
    services = make_services(sqlite_database, upload_parse_seconds=300)
    org = seed_org(services, "acme", faq_csv=None)
    job = services.ingestion.submit(org.id, "handbook.docx", costly_docx(400_000))
    deadline = time.monotonic() + 30
    while services.ingestion.document(org.id, job.document_id)[1].status != "processing":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    started = time.monotonic()
    services.ingestion.delete_document(org.id, job.document_id)
    finished = threading.Event()
    threading.Thread(target=lambda: (services.jobs.wait(timeout=60), finished.set())).start()
    assert finished.wait(20), "the reading stopped with its document"
    assert time.monotonic() - started < 10
    assert services.ingestion.documents(org.id) == []


def test_one_organizations_slow_upload_does_not_hold_back_anothers(
    make_services, sqlite_database: Database
) -> None:
    """Before, one upload worker served every organization in arrival order: a costly DOCX
    made another organization's one-line CSV wait for minutes. Organizations now take the
    threads in turn, one task each at a time."""
    services = make_services(sqlite_database, upload_parse_seconds=300)
    slow_org = seed_org(services, "slow", faq_csv=None)
    quick_org = seed_org(services, "quick", faq_csv=None)
    slow = services.ingestion.submit(slow_org.id, "handbook.docx", costly_docx(400_000))
    also_slow = services.ingestion.submit(slow_org.id, "second.docx", costly_docx(400_000))
    quick = services.ingestion.submit(
        quick_org.id, "faq.csv", b"question,answer\nNinawezaje kulipa?,Tumia M-Pesa.\n"
    )
    deadline = time.monotonic() + 20
    while services.ingestion.job(quick_org.id, quick.id).status != "ready":
        assert time.monotonic() < deadline, "the quick organization waited on the slow one"
        time.sleep(0.1)
    assert services.ingestion.job(slow_org.id, slow.id).status == "processing"
    assert services.ingestion.job(slow_org.id, also_slow.id).status == "queued", (
        "one task of an organization at a time"
    )
    for job in (slow, also_slow):
        services.ingestion.delete_document(slow_org.id, job.document_id)
    services.jobs.wait(timeout=60)

"""Background ingestion: uploads become answerable knowledge; broken files fail alone."""

from __future__ import annotations

import io

import pytest
from docx import Document as DocxDocument

from imaradesk.knowledge_index.ingestion import UploadRejected
from imaradesk.storage.db import Database
from imaradesk.storage.models import DocumentStatus
from tests.helpers import seed_org

FAQ = b"""question,answer
How do I open a savings account?,Visit any branch with your ID and KES 500.
What are your opening hours?,We open 8am to 5pm on weekdays.
"""


def _docx(paragraphs: list[tuple[str, str]]) -> bytes:
    document = DocxDocument()
    for style, text in paragraphs:
        if style == "h":
            document.add_heading(text, level=1)
        else:
            document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _upload(services, org_id: int, name: str, data: bytes):
    job = services.ingestion.submit(org_id, name, data, uploaded_by="km@acme.test")
    services.jobs.wait(timeout=60)
    return services.ingestion.job(org_id, job.id)


def _answers(services, slug: str, text: str) -> str | None:
    org = services.organizations.by_slug(slug)
    result = services.knowledge.search(org.id, text, revision=org.kb_revision)
    return result.best.answer if result.confident else None


def test_uploaded_faq_is_answerable_once_its_job_is_done(make_services, database: Database) -> None:
    """The job record ends ready with counts, and the bot answers from the new entries."""
    services = make_services(database)
    org = seed_org(services, "acme", faq_csv=None)
    job = _upload(services, org.id, "accounts.csv", FAQ)
    assert job.status == DocumentStatus.READY, job.error
    assert (job.created, job.stage, job.percent) == (2, "done", 100)
    assert _answers(services, "acme", "How do I open a savings account?") == (
        "Visit any branch with your ID and KES 500."
    )
    [(document, latest)] = services.ingestion.documents(org.id)
    assert (document.name, document.entries, document.status) == ("accounts.csv", 2, "ready")
    assert latest is not None and latest.id == job.id


def test_a_broken_file_fails_alone_and_leaves_the_index_as_it_was(
    make_services, database: Database
) -> None:
    """A corrupt PDF ends failed with a reason; earlier knowledge and the revision are untouched."""
    services = make_services(database)
    org = seed_org(services, "acme")
    before = services.organizations.by_slug("acme").kb_revision
    job = _upload(services, org.id, "manual.pdf", b"%PDF-1.7\nthis is not really a pdf")
    assert job.status == DocumentStatus.FAILED
    assert "manual.pdf" in job.error and "PDF" in job.error
    assert services.organizations.by_slug("acme").kb_revision == before
    assert _answers(services, "acme", "How do I check my balance?") is not None
    # Another upload after the failure still works.
    assert _upload(services, org.id, "accounts.csv", FAQ).status == DocumentStatus.READY


def test_passages_of_a_document_cite_their_place(make_services, database: Database) -> None:
    """A DOCX is split into passages that keep the file and the heading they came from."""
    services = make_services(database)
    org = seed_org(services, "acme", faq_csv=None)
    data = _docx(
        [
            ("h", "Loans"),
            ("p", "Salary advances are repaid within 30 days at a fee of 5 percent."),
            ("h", "Cards"),
            ("p", "A lost debit card is blocked at once when you call 0700 000 000."),
        ]
    )
    job = _upload(services, org.id, "handbook.docx", data)
    assert job.status == DocumentStatus.READY, job.error
    page = services.curation.entries(org.id, source="handbook.docx")
    assert page.total >= 2
    loans = [e for e in page.entries if "Salary advances" in e.answer]
    assert loans and loans[0].kind == "passage" and "Loans" in (loans[0].location or "")


def test_reupload_replaces_and_delete_removes_from_the_index_at_once(
    make_services, database: Database
) -> None:
    """Same name = new version of the document; deleting it stops answers before returning."""
    services = make_services(database)
    org = seed_org(services, "acme", faq_csv=None)
    _upload(services, org.id, "accounts.csv", FAQ)
    second = FAQ.replace(b"8am to 5pm", b"9am to 4pm")
    job = _upload(services, org.id, "accounts.csv", second)
    assert (job.created, job.updated) == (0, 1)
    assert "9am to 4pm" in _answers(services, "acme", "What are your opening hours?")
    assert len(services.ingestion.documents(org.id)) == 1

    [(document, _)] = services.ingestion.documents(org.id)
    assert services.ingestion.delete_document(org.id, document.id) == 2
    assert _answers(services, "acme", "What are your opening hours?") is None
    assert services.ingestion.documents(org.id) == []


def test_uploads_are_sealed_while_queued_and_gone_after(make_services, database: Database) -> None:
    """The file waiting for a worker is encrypted; it is deleted when the job ends."""
    services = make_services(database)
    org = seed_org(services, "acme", faq_csv=None)
    job = services.ingestion.create_job(org.id, "accounts.csv", FAQ)
    path = services.settings.upload_dir / f"org-{org.id}" / f"job-{job.id}.sealed"
    assert path.exists() and b"savings account" not in path.read_bytes()
    services.ingestion.run(org.id, job.id)
    assert not path.exists()


def test_jobs_left_by_a_stopped_process_resume_or_fail_clearly(
    make_services, database: Database
) -> None:
    """After a restart, a queued job with its file runs; one whose file is gone fails."""
    services = make_services(database)
    org = seed_org(services, "acme", faq_csv=None)
    kept = services.ingestion.create_job(org.id, "accounts.csv", FAQ)
    lost = services.ingestion.create_job(org.id, "other.csv", FAQ)
    (services.settings.upload_dir / f"org-{org.id}" / f"job-{lost.id}.sealed").unlink()

    assert services.ingestion.resume_unfinished() == 1
    services.jobs.wait(timeout=60)
    assert services.ingestion.job(org.id, kept.id).status == DocumentStatus.READY
    failed = services.ingestion.job(org.id, lost.id)
    assert failed.status == DocumentStatus.FAILED and "interrupted" in failed.error


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("notes.exe", b"MZ", "unsupported file type"),
        ("empty.csv", b"", "empty"),
        ("", b"x", "name"),
    ],
)
def test_uploads_refused_before_queueing(
    make_services, sqlite_database, name, data, reason
) -> None:
    """Wrong type, empty file or no name: refused with a reason, nothing recorded."""
    services = make_services(sqlite_database)
    org = seed_org(services, "acme", faq_csv=None)
    with pytest.raises(UploadRejected, match=reason):
        services.ingestion.submit(org.id, name, data)
    assert services.ingestion.documents(org.id) == []


def test_one_organization_cannot_see_or_delete_anothers_documents(
    make_services, database: Database
) -> None:
    services = make_services(database)
    acme = seed_org(services, "acme", faq_csv=None)
    other = seed_org(services, "other", faq_csv=None)
    job = _upload(services, acme.id, "accounts.csv", FAQ)
    assert services.ingestion.job(other.id, job.id) is None
    assert services.ingestion.document(other.id, job.document_id) is None
    assert services.ingestion.delete_document(other.id, job.document_id) is None
    assert services.ingestion.documents(acme.id)


def test_a_file_cannot_take_over_another_documents_or_a_hand_written_entry(
    make_services, database: Database
) -> None:
    """Entry ids are unique per organization: a second file reusing one fails with the reason,
    and deleting that file later could never remove the first document's or a person's entry."""
    services = make_services(database)
    org = seed_org(services, "acme", faq_csv=None)
    first = b"id,question,answer\nopen,How do I open an account?,Visit a branch.\n"
    assert _upload(services, org.id, "a.csv", first).status == DocumentStatus.READY
    second = b"id,question,answer\nopen,How do I close an account?,Call us.\n"
    job = _upload(services, org.id, "b.csv", second)
    assert job.status == DocumentStatus.FAILED
    assert "'open' already comes from 'a.csv'" in job.error
    from imaradesk.knowledge_index.curation import EntryEdit

    manual = services.curation.create_entry(
        org.id, EntryEdit(question="Do you open on Sundays?", answer="No.")
    )
    takeover = f"id,question,answer\n{manual.external_id},Sundays?,Yes.\n".encode()
    assert _upload(services, org.id, "c.csv", takeover).status == DocumentStatus.FAILED
    assert services.curation.entry(org.id, manual.id).answer == "No."
    assert _answers(services, "acme", "How do I open an account?") == "Visit a branch."


def test_an_older_upload_never_overwrites_a_newer_one(make_services, database: Database) -> None:
    """Two versions of a file queued: whichever job runs last, the newer version is what the bot
    answers from, and the older job says it was replaced."""
    services = make_services(database)
    org = seed_org(services, "acme", faq_csv=None)
    old = services.ingestion.create_job(org.id, "accounts.csv", FAQ)
    new = services.ingestion.create_job(org.id, "accounts.csv", FAQ.replace(b"8am", b"7am"))
    assert services.ingestion.run(org.id, new.id).status == DocumentStatus.READY
    late = services.ingestion.run(org.id, old.id)
    assert late.status == DocumentStatus.FAILED and "replaced by a newer upload" in late.error
    assert "7am" in _answers(services, "acme", "What are your opening hours?")


def test_deleting_a_document_removes_every_queued_version_of_its_file(
    make_services, database: Database
) -> None:
    services = make_services(database)
    org = seed_org(services, "acme", faq_csv=None)
    first = services.ingestion.create_job(org.id, "accounts.csv", FAQ)
    second = services.ingestion.create_job(org.id, "accounts.csv", FAQ)
    folder = services.settings.upload_dir / f"org-{org.id}"
    assert len(list(folder.iterdir())) == 2
    assert services.ingestion.delete_document(org.id, first.document_id) == 0
    assert list(folder.iterdir()) == []
    with pytest.raises(LookupError):  # a worker reaching a deleted job just stops
        services.ingestion.run(org.id, second.id)


def test_a_job_left_processing_by_a_dead_worker_fails_with_its_reason(
    make_services, database: Database, clock
) -> None:
    """An RQ worker killed mid-reading leaves its job "processing" for ever (RQ does not retry
    it): the worker's sweep fails it after two hours, with a reason the uploader can act on,
    and leaves a job that is only slow alone."""
    from datetime import timedelta

    from imaradesk.storage.document_repository import DocumentData

    services = make_services(database)
    org = seed_org(services, "acme", faq_csv=None)
    job = services.ingestion.create_job(org.id, "faq.csv", FAQ, uploaded_by="test")
    with services.database.write() as session:
        uploads = DocumentData(session, org.id)
        row = uploads.job(job.id)
        uploads.start_job(row, uploads.document(row.document_id), now=clock.now())
    clock.advance(timedelta(minutes=30))
    assert services.ingestion.fail_stalled(older_than=timedelta(hours=2)) == 0, "only slow"
    clock.advance(timedelta(hours=2))
    assert services.ingestion.fail_stalled(older_than=timedelta(hours=2)) == 1
    failed = services.ingestion.job(org.id, job.id)
    assert failed.status == "failed" and "stopped before it finished" in failed.error

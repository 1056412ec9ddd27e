"""The knowledge and document repositories: drafts of any shape, conflicts, typed job writes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest

from imaradesk.services import Services
from imaradesk.storage.db import Database
from imaradesk.storage.document_repository import DocumentData
from imaradesk.storage.knowledge_repository import (
    NO_CHANGE,
    EntryConflict,
    KnowledgeChange,
    KnowledgeData,
)
from imaradesk.storage.models import DocumentStatus
from tests.helpers import seed_org

MakeServices = Callable[..., Services]


@dataclass(frozen=True)
class Row:
    """Not the knowledge index's EntryDraft: storage takes anything of that shape."""

    external_id: str
    questions: tuple[str, ...]
    answer: str
    category: str | None = None
    line: int = 1
    kind: str = "faq"
    location: str | None = None


def test_sync_takes_drafts_of_any_shape_and_keeps_unchanged_phrasings(
    make_services: MakeServices, database: Database
) -> None:
    services = make_services(database)
    org = seed_org(services, "acme", faq_csv=None)
    now = services.clock.now()
    with database.write() as session:
        first = KnowledgeData(session, org.id).sync_entries(
            [Row("a", ("Hi?", "Hello?"), "Hi."), Row("b", ("Bye?",), "Bye.")],
            source="f.csv",
            now=now,
            prune_missing=True,
        )
    assert (first.created, first.updated, first.removed) == (2, 0, 0)
    assert len(first.added_phrasing_ids) == 3
    with database.write() as session:
        data = KnowledgeData(session, org.id)
        second = data.sync_entries(
            [Row("a", ("Hi?", "Hey?"), "Hi.")], source="f.csv", now=now, prune_missing=True
        )
        assert [e.external_id for e in data.entries()] == ["a"]
        assert data.revision() == org.kb_revision + 2
    assert (second.created, second.updated, second.removed) == (0, 1, 1)
    assert len(second.added_phrasing_ids) == 1 and len(second.removed_phrasing_ids) == 2


def test_a_file_cannot_take_over_another_sources_entry(
    make_services: MakeServices, database: Database
) -> None:
    services = make_services(database)
    org = seed_org(services, "acme", faq_csv=None)
    now = services.clock.now()
    with database.write() as session:
        KnowledgeData(session, org.id).sync_entries(
            [Row("a", ("Hi?",), "Hi.")], source="one.csv", now=now, prune_missing=True
        )
    with pytest.raises(EntryConflict) as caught, database.write() as session:
        KnowledgeData(session, org.id).sync_entries(
            [Row("a", ("Hi?",), "Other.", line=4)], source="two.csv", now=now, prune_missing=True
        )
    assert (caught.value.owner, caught.value.line) == ("one.csv", 4)


def test_changes_add_up() -> None:
    one = KnowledgeChange(1, 2, 3, 4, (1,), (2,))
    two = KnowledgeChange(10, 20, 30, 40, (5, 6), ())
    assert NO_CHANGE + one + two == KnowledgeChange(11, 22, 33, 44, (1, 5, 6), (2,))


def test_an_upload_is_recorded_started_and_finished(
    make_services: MakeServices, database: Database
) -> None:
    services = make_services(database)
    org = seed_org(services, "acme", faq_csv=None)
    now = services.clock.now()
    with database.write() as session:
        data = DocumentData(session, org.id)
        document = data.record_upload(
            "faq.csv", media_type="text/csv", size_bytes=3, sha256="ab", uploaded_by=None, now=now
        )
        assert document.id is not None
        job = data.add_job(document.id, now=now)
        data.start_job(job, document, now=now)
        data.set_job_progress(job, stage="embedding", done=2, total=5)
        assert (job.status, job.stage, document.status) == (
            DocumentStatus.PROCESSING,
            "embedding",
            DocumentStatus.PROCESSING,
        )
        later = now + timedelta(seconds=5)
        data.finish_job(job, error=None, created=4, updated=0, removed=1, now=later)
        data.finish_document(document, DocumentStatus.READY, now=later, error=None, entries=4)
    with database.read() as session:
        data = DocumentData(session, org.id)
        stored = data.job(job.id)  # type: ignore[arg-type]
        assert stored is not None
        assert (stored.status, stored.stage, stored.done, stored.created) == (
            DocumentStatus.READY,
            "done",
            5,
            4,
        )
        again = data.document_named("faq.csv")
        assert again is not None and again.entries == 4
    with database.write() as session:
        data = DocumentData(session, org.id)
        same = data.record_upload(
            "faq.csv",
            media_type="text/csv",
            size_bytes=9,
            sha256="cd",
            uploaded_by="ann",
            now=later,
        )
        assert same.id == document.id
        assert (same.status, same.size_bytes, same.uploaded_by) == (DocumentStatus.QUEUED, 9, "ann")


def test_rows_of_another_organization_are_refused(
    make_services: MakeServices, database: Database
) -> None:
    services = make_services(database)
    acme, other = (
        seed_org(services, "acme", faq_csv=None),
        seed_org(services, "other", faq_csv=None),
    )
    now = services.clock.now()
    with database.write() as session:
        document = DocumentData(session, acme.id).record_upload(
            "faq.csv", media_type="text/csv", size_bytes=3, sha256="ab", uploaded_by=None, now=now
        )
        assert document.id is not None
        job = DocumentData(session, acme.id).add_job(document.id, now=now)
        with pytest.raises(PermissionError):
            DocumentData(session, other.id).fail_job(job, "no")

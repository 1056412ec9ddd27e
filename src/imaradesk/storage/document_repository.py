"""Reads and writes of one organization's uploaded documents and their ingestion jobs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from imaradesk.storage.knowledge_repository import KnowledgeData
from imaradesk.storage.models import DocumentStatus, IngestionJob, KnowledgeDocument
from imaradesk.storage.scoped import OrgScoped

UNFINISHED = (DocumentStatus.QUEUED, DocumentStatus.PROCESSING)


class DocumentData(OrgScoped):
    """One organization's documents and jobs; every query names the organization."""

    # -- documents -------------------------------------------------------------------------------

    def documents(self) -> Sequence[KnowledgeDocument]:
        return self._session.exec(
            select(KnowledgeDocument)
            .where(KnowledgeDocument.org_id == self.org_id)
            .order_by(col(KnowledgeDocument.created_at).desc(), col(KnowledgeDocument.id).desc())
        ).all()

    def document(self, document_id: int) -> KnowledgeDocument | None:
        return self._session.exec(
            select(KnowledgeDocument).where(
                KnowledgeDocument.org_id == self.org_id, KnowledgeDocument.id == document_id
            )
        ).first()

    def document_named(self, name: str) -> KnowledgeDocument | None:
        return self._session.exec(
            select(KnowledgeDocument).where(
                KnowledgeDocument.org_id == self.org_id, KnowledgeDocument.name == name
            )
        ).first()

    def record_upload(
        self,
        name: str,
        *,
        media_type: str,
        size_bytes: int,
        sha256: str,
        uploaded_by: str | None,
        now: datetime,
    ) -> KnowledgeDocument:
        """The document of that name, created or reset to a queued new upload."""
        document = self.document_named(name)
        if document is None:
            document = KnowledgeDocument(
                org_id=self.org_id, name=name, media_type=media_type, sha256=sha256, created_at=now
            )
        document.media_type = media_type
        document.size_bytes = size_bytes
        document.sha256 = sha256
        document.status = DocumentStatus.QUEUED
        document.error = None
        document.uploaded_by = uploaded_by
        document.updated_at = now
        self._session.add(document)
        self._session.flush()
        return document

    def finish_document(
        self,
        document: KnowledgeDocument,
        status: DocumentStatus,
        *,
        now: datetime,
        error: str | None,
        entries: int | None,
    ) -> None:
        """Set a processed document's outcome; ``entries`` counts what a successful job read."""
        self._check_owned(document)
        document.status = status
        document.error = error
        if entries is not None:
            document.entries = entries
        document.updated_at = now
        self._session.add(document)

    def delete_document(self, document: KnowledgeDocument) -> int:
        """Remove the document, its jobs and the entries read from it; returns entries removed."""
        if document.org_id != self.org_id:
            raise PermissionError("document belongs to another organization")
        knowledge = KnowledgeData(self._session, self.org_id)
        removed = knowledge.delete_entries_from(document.name)
        self._session.execute(
            delete(IngestionJob).where(
                col(IngestionJob.org_id) == self.org_id,
                col(IngestionJob.document_id) == document.id,
            )
        )
        self._session.delete(document)
        self._session.flush()
        if removed:
            knowledge.bump_revision()
        return removed

    # -- jobs ------------------------------------------------------------------------------------

    def add_job(self, document_id: int, *, now: datetime) -> IngestionJob:
        job = IngestionJob(org_id=self.org_id, document_id=document_id, created_at=now)
        self._session.add(job)
        self._session.flush()
        return job

    def job(self, job_id: int) -> IngestionJob | None:
        return self._session.exec(
            select(IngestionJob).where(
                IngestionJob.org_id == self.org_id, IngestionJob.id == job_id
            )
        ).first()

    def job_ids_of(self, document_id: int) -> list[int]:
        rows = self._session.exec(
            select(IngestionJob.id).where(
                IngestionJob.org_id == self.org_id, IngestionJob.document_id == document_id
            )
        ).all()
        return [int(i) for i in rows if i is not None]

    def latest_jobs(self, document_ids: Sequence[int]) -> dict[int, IngestionJob]:
        if not document_ids:
            return {}
        rows = self._session.exec(
            select(IngestionJob)
            .where(
                IngestionJob.org_id == self.org_id,
                col(IngestionJob.document_id).in_(list(document_ids)),
            )
            .order_by(col(IngestionJob.id))
        ).all()
        return {row.document_id: row for row in rows}  # the last one wins

    def start_job(self, job: IngestionJob, document: KnowledgeDocument, *, now: datetime) -> None:
        """Mark the job and its document as being processed."""
        self._check_owned(job)
        self._check_owned(document)
        job.status = DocumentStatus.PROCESSING
        job.stage = "reading"
        job.started_at = now
        self._session.add(job)
        document.status = DocumentStatus.PROCESSING
        document.updated_at = now
        self._session.add(document)

    def set_job_progress(self, job: IngestionJob, *, stage: str, done: int, total: int) -> None:
        self._check_owned(job)
        job.stage = stage
        job.done = done
        job.total = total
        self._session.add(job)

    def fail_job(self, job: IngestionJob, error: str) -> None:
        """End a job that never ran."""
        self._check_owned(job)
        job.status = DocumentStatus.FAILED
        job.error = error
        self._session.add(job)

    def finish_job(
        self,
        job: IngestionJob,
        *,
        error: str | None,
        created: int,
        updated: int,
        removed: int,
        now: datetime,
    ) -> None:
        """End a job that ran: ready with its counts, or failed with its error."""
        self._check_owned(job)
        job.status = DocumentStatus.FAILED if error else DocumentStatus.READY
        job.stage = "failed" if error else "done"
        job.error = error
        job.created = created
        job.updated = updated
        job.removed = removed
        job.done = job.total if not error else job.done
        job.finished_at = now
        self._session.add(job)


def unfinished_jobs(session: Session) -> list[tuple[int, int]]:
    """(org id, job id) of every job a stopped process left queued or running, all orgs."""
    rows = session.exec(
        select(IngestionJob.org_id, IngestionJob.id)
        .where(col(IngestionJob.status).in_(list(UNFINISHED)))
        .order_by(col(IngestionJob.id))
    ).all()
    return [(int(org_id), int(job_id)) for org_id, job_id in rows if job_id is not None]


def oldest_unfinished_job(session: Session) -> datetime | None:
    """When the oldest upload still queued or being read was queued, any organization's."""
    return session.exec(
        select(func.min(IngestionJob.created_at)).where(
            col(IngestionJob.status).in_((DocumentStatus.QUEUED, DocumentStatus.PROCESSING))
        )
    ).one()


def stalled_jobs(session: Session, *, started_before: datetime) -> list[tuple[int, int]]:
    """(org id, job id) of jobs still "processing" that started before ``started_before``:
    their worker died (RQ does not retry a reading that took the worker down)."""
    rows = session.exec(
        select(IngestionJob.org_id, IngestionJob.id).where(
            IngestionJob.status == DocumentStatus.PROCESSING,
            col(IngestionJob.started_at) < started_before,
        )
    ).all()
    return [(int(org_id), int(job_id)) for org_id, job_id in rows if job_id is not None]

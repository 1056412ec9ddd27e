"""Uploads become knowledge in the background: read, save, embed, index, with a job record.

``submit`` checks the upload, keeps it sealed on disk and queues it; ``run`` (in a thread of the
web process or in a worker) parses it, writes its entries in one transaction and rebuilds the
index, writing progress to the job row so that the console page and ``kb import`` can show it.
A file that cannot be read fails alone, before anything is written: the index stays as it was.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path, PurePath
from typing import Protocol

from imaradesk.knowledge_index.documents import (
    SUPPORTED_EXTENSIONS,
    ParsedDocument,
    media_type_of,
)
from imaradesk.knowledge_index.errors import ImportFormatError
from imaradesk.knowledge_index.errors import UploadRejected as UploadRejected  # re-exported
from imaradesk.knowledge_index.knowledge_base import KnowledgeBase
from imaradesk.knowledge_index.parse_sandbox import ParseCancelled, ParseLimits, parse_isolated
from imaradesk.knowledge_index.retrieval_types import ProgressCallback
from imaradesk.runtime.clock import Clock
from imaradesk.runtime.jobs import JobQueue
from imaradesk.storage.db import Database
from imaradesk.storage.document_repository import (
    DocumentData,
    oldest_unfinished_job,
    stalled_jobs,
    unfinished_jobs,
)
from imaradesk.storage.knowledge_repository import EntryConflict, KnowledgeChange, KnowledgeData
from imaradesk.storage.models import DocumentStatus, IngestionJob, KnowledgeDocument

log = logging.getLogger(__name__)

INGEST_TASK = "ingest"
_PROGRESS_INTERVAL_SECONDS = 0.5
MAX_NAME_CHARS = 200


@dataclass(frozen=True)
class JobView:
    id: int
    document_id: int
    document_name: str
    status: str
    stage: str
    done: int
    total: int
    created: int
    updated: int
    removed: int
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @property
    def finished(self) -> bool:
        return self.status in (DocumentStatus.READY, DocumentStatus.FAILED)

    @property
    def percent(self) -> int:
        # Reading is the first half of the work shown, embedding the second.
        if self.status == DocumentStatus.READY:
            return 100
        if not self.total:
            return 0
        share = min(self.done / self.total, 1.0)
        if self.stage == "calibrating":
            return 99
        return int(share * 50) + (50 if self.stage == "embedding" else 0)

    @classmethod
    def of(cls, job: IngestionJob, document_name: str) -> JobView:
        assert job.id is not None
        return cls(
            id=job.id,
            document_id=job.document_id,
            document_name=document_name,
            status=str(job.status),
            stage=job.stage,
            done=job.done,
            total=job.total,
            created=job.created,
            updated=job.updated,
            removed=job.removed,
            error=job.error,
            created_at=job.created_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
        )


class StorageQuota(Protocol):
    def check_storage(self, org_id: int, adding: int) -> None:
        """Raises:
        StorageQuotaExceeded: ``adding`` bytes more would pass the organization's quota.
        """
        ...

    def forget_storage(self, org_id: int) -> None: ...


class IngestionService:
    def __init__(
        self,
        *,
        database: Database,
        knowledge: KnowledgeBase,
        queue: JobQueue,
        clock: Clock,
        upload_dir: Path,
        max_upload_bytes: int,
        parse_limits: ParseLimits | None = None,
        storage: StorageQuota | None = None,
    ) -> None:
        self._parse_limits = parse_limits or ParseLimits()
        self._storage = storage
        self._db = database
        self._knowledge = knowledge
        self._queue = queue
        self._clock = clock
        self._upload_dir = upload_dir
        self._max_bytes = max_upload_bytes

    @property
    def max_upload_bytes(self) -> int:
        return self._max_bytes

    # -- submitting ------------------------------------------------------------------------------

    def submit(
        self, org_id: int, name: str, data: bytes, *, uploaded_by: str | None = None
    ) -> JobView:
        """Check and queue an upload; re-uploading a name replaces that document's entries.

        Raises:
            UploadRejected: the file's name, type or size is refused.
            StorageQuotaExceeded: the organization has no room left for it.
        """
        name = self.check(name, data)
        if self._storage is not None:
            self._storage.check_storage(org_id, len(data))
        job = self.create_job(org_id, name, data, uploaded_by=uploaded_by)
        if self._storage is not None:
            self._storage.forget_storage(org_id)
        try:
            self._queue.enqueue(INGEST_TASK, org_id=org_id, job_id=job.id)
        except Exception:
            # Redis down: say so on the job, or the page would show it queued for ever.
            self._finish(org_id, job.id, error=f"{name}: could not be queued; upload it again")
            self._upload_path(org_id, job.id).unlink(missing_ok=True)
            raise
        return job

    def check(self, name: str, data: bytes) -> str:
        name = PurePath(name.replace("\\", "/")).name.strip()
        if not name or len(name) > MAX_NAME_CHARS or any(ord(c) < 32 for c in name):
            raise UploadRejected("the file needs a name of at most 200 printable characters")
        extension = PurePath(name).suffix.lower()
        if extension not in SUPPORTED_EXTENSIONS:
            kinds = ", ".join(SUPPORTED_EXTENSIONS)
            raise UploadRejected(
                f"{name}: unsupported file type {extension or '(none)'}; use {kinds}"
            )
        if not data:
            raise UploadRejected(f"{name}: the file is empty")
        if len(data) > self._max_bytes:
            raise UploadRejected(f"{name}: larger than {self._max_bytes // 2**20} MiB")
        return name

    def create_job(
        self, org_id: int, name: str, data: bytes, *, uploaded_by: str | None = None
    ) -> JobView:
        """Record the document and its job and keep the upload, without queueing it."""
        now = self._clock.now()
        with self._db.write() as session:
            uploads = DocumentData(session, org_id)
            document = uploads.record_upload(
                name,
                media_type=media_type_of(name),
                size_bytes=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
                uploaded_by=uploaded_by,
                now=now,
            )
            assert document.id is not None
            job = uploads.add_job(document.id, now=now)
            assert job.id is not None
            view = JobView.of(job, name)
        path = self._upload_path(org_id, view.id)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Uploads may hold personal data: sealed with the organization's key like its rows.
        sealed = self._db.keystore.seal_bytes(org_id, data, f"upload/{view.id}")
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(sealed)
        tmp.replace(path)
        return view

    # -- running ---------------------------------------------------------------------------------

    def run(self, org_id: int, job_id: int) -> JobView:
        """Do the job now, in this thread; every outcome ends in the job record."""
        with self._db.write() as session:
            uploads = DocumentData(session, org_id)
            job = uploads.job(job_id)
            if job is None:
                # Its document was deleted before a worker got to it: nothing to do but tidy.
                self._upload_path(org_id, job_id).unlink(missing_ok=True)
                raise LookupError(f"no ingestion job {job_id} in organization {org_id}")
            document = uploads.document(job.document_id)
            if job.status not in (DocumentStatus.QUEUED, DocumentStatus.PROCESSING):
                return JobView.of(job, document.name if document else "")
            if document is None:
                uploads.fail_job(job, "document was deleted")
                return JobView.of(job, "")
            name = document.name
            now = self._clock.now()
            uploads.start_job(job, document, now=now)
        progress = _ProgressWriter(self._db, org_id, job_id)
        path = self._upload_path(org_id, job_id)
        try:
            try:
                data = self._db.keystore.open_bytes(org_id, path.read_bytes(), f"upload/{job_id}")
            except OSError as e:
                raise ImportFormatError(name, 0, "the upload was lost before it was read") from e
            parsed = parse_isolated(
                name,
                data,
                limits=self._parse_limits,
                progress=progress.stage("reading"),
                cancelled=lambda: self._document_gone(org_id, job.document_id),
            )
            with self._knowledge.changing(org_id):
                change = self._store_entries(org_id, job, name, parsed)
                progress.set("embedding", 0, 0, force=True)
                self._knowledge.refresh(
                    org_id,
                    progress=progress.counter("embedding"),
                    # Answerable from here on (questions as written); the answer model is next.
                    on_interim=lambda _snapshot: progress.set("calibrating", 1, 1, force=True),
                )
        except ParseCancelled:
            return self._finish(org_id, job_id, error=f"{name}: document was deleted")
        except ImportFormatError as e:
            return self._finish(org_id, job_id, error=str(e))
        except Exception as e:
            log.exception("ingestion failed", extra={"org_id": org_id, "job_id": job_id})
            return self._finish(
                org_id, job_id, error=f"{name}: could not be processed ({type(e).__name__})"
            )
        finally:
            path.unlink(missing_ok=True)
        return self._finish(
            org_id,
            job_id,
            entries=len(parsed.drafts),
            created=change.created,
            updated=change.updated,
            removed=change.removed,
        )

    def fail_stalled(self, *, older_than: timedelta) -> int:
        """Fail the jobs a dead worker left "processing" (no job runs longer than the parse
        deadline and the indexing after it); their uploads can be sent again."""
        with self._db.read() as session:
            stalled = stalled_jobs(session, started_before=self._clock.now() - older_than)
        for org_id, job_id in stalled:
            self._finish(
                org_id,
                job_id,
                error="the worker reading it stopped before it finished; upload again",
            )
            self._upload_path(org_id, job_id).unlink(missing_ok=True)
        return len(stalled)

    def oldest_unfinished_seconds(self) -> float:
        """How long the oldest upload of any organization has waited or been read (0: none)."""
        with self._db.read() as session:
            oldest = oldest_unfinished_job(session)
        if oldest is None:
            return 0.0
        return max(0.0, (self._clock.now() - oldest).total_seconds())

    def _document_gone(self, org_id: int, document_id: int) -> bool:
        with self._db.read() as session:
            return DocumentData(session, org_id).document(document_id) is None

    def _store_entries(
        self, org_id: int, job: IngestionJob, name: str, parsed: ParsedDocument
    ) -> KnowledgeChange:
        """Write the file's entries, unless its document went or a newer upload replaced it."""
        with self._db.write() as session:
            uploads = DocumentData(session, org_id)
            if uploads.document(job.document_id) is None:
                raise ImportFormatError(name, 0, "the document was deleted while it was read")
            latest = uploads.latest_jobs([job.document_id]).get(job.document_id)
            if latest is not None and latest.id != job.id:
                # A newer upload of the same name is queued: this older file must not
                # overwrite it, whichever finishes first.
                raise ImportFormatError(name, 0, "replaced by a newer upload of this file")
            try:
                return KnowledgeData(session, org_id).sync_entries(
                    parsed.drafts, source=name, now=self._clock.now(), prune_missing=True
                )
            except EntryConflict as e:
                raise ImportFormatError(name, e.line, str(e)) from e

    def _finish(
        self,
        org_id: int,
        job_id: int,
        *,
        error: str | None = None,
        entries: int = 0,
        created: int = 0,
        updated: int = 0,
        removed: int = 0,
    ) -> JobView:
        now = self._clock.now()
        status = DocumentStatus.FAILED if error else DocumentStatus.READY
        with self._db.write() as session:
            uploads = DocumentData(session, org_id)
            job = uploads.job(job_id)
            if job is None:  # the document (and its jobs) were deleted meanwhile
                return JobView(
                    job_id, 0, "", str(status), "deleted", 0, 0, 0, 0, 0, error, now, None, now
                )
            uploads.finish_job(
                job, error=error, created=created, updated=updated, removed=removed, now=now
            )
            document = uploads.document(job.document_id)
            if document is not None:
                uploads.finish_document(
                    document, status, now=now, error=error, entries=None if error else entries
                )
            view = JobView.of(job, document.name if document else "")
        if error:
            log.info("ingestion failed", extra={"org_id": org_id, "job_id": job_id})
        return view

    def resume_unfinished(self) -> int:
        """Queue again the jobs a stopped process left behind; those without a file fail."""
        with self._db.read() as session:
            pending = unfinished_jobs(session)
        resumed = 0
        for org_id, job_id in pending:
            if self._upload_path(org_id, job_id).exists():
                self._queue.enqueue(INGEST_TASK, org_id=org_id, job_id=job_id)
                resumed += 1
            else:
                self._finish(org_id, job_id, error="interrupted before it finished; upload again")
        return resumed

    # -- reading ---------------------------------------------------------------------------------

    def job(self, org_id: int, job_id: int) -> JobView | None:
        with self._db.read() as session:
            uploads = DocumentData(session, org_id)
            job = uploads.job(job_id)
            if job is None:
                return None
            document = uploads.document(job.document_id)
            return JobView.of(job, document.name if document else "")

    def documents(self, org_id: int) -> list[tuple[KnowledgeDocument, JobView | None]]:
        with self._db.read() as session:
            uploads = DocumentData(session, org_id)
            documents = list(uploads.documents())
            jobs = uploads.latest_jobs([d.id for d in documents if d.id is not None])
            return [
                (d, JobView.of(jobs[d.id], d.name) if d.id in jobs else None) for d in documents
            ]

    def document(
        self, org_id: int, document_id: int
    ) -> tuple[KnowledgeDocument, JobView | None] | None:
        with self._db.read() as session:
            uploads = DocumentData(session, org_id)
            document = uploads.document(document_id)
            if document is None:
                return None
            job = uploads.latest_jobs([document_id]).get(document_id)
            return document, (JobView.of(job, document.name) if job else None)

    def delete_document(self, org_id: int, document_id: int) -> int | None:
        """Remove a document and its entries, and the index with them, before returning."""
        with self._knowledge.changing(org_id):
            with self._db.write() as session:
                uploads = DocumentData(session, org_id)
                document = uploads.document(document_id)
                if document is None:
                    return None
                job_ids = uploads.job_ids_of(document_id)
                removed = uploads.delete_document(document)
            for job_id in job_ids:  # every queued version of the file, not only the latest
                self._upload_path(org_id, job_id).unlink(missing_ok=True)
            if removed:
                self._knowledge.refresh(org_id)
        return removed

    # -- erasure ---------------------------------------------------------------------------------

    def erase_organization(self, org_id: int) -> None:
        shutil.rmtree(self._org_dir(org_id), ignore_errors=True)

    def _org_dir(self, org_id: int) -> Path:
        return self._upload_dir / f"org-{org_id}"

    def _upload_path(self, org_id: int, job_id: int) -> Path:
        return self._org_dir(org_id) / f"job-{job_id}.sealed"


class _ProgressWriter:
    """Writes a job's progress at most twice a second: the page polls, the rows stay few."""

    def __init__(self, database: Database, org_id: int, job_id: int) -> None:
        self._db = database
        self._org_id = org_id
        self._job_id = job_id
        self._last = 0.0
        self._done = 0
        self._guard = threading.Lock()

    def stage(self, stage: str) -> ProgressCallback:
        def report(done: int, total: int) -> None:
            self.set(stage, done, total, force=done >= total)

        return report

    def counter(self, stage: str) -> ProgressCallback:
        """For callbacks that report increments (the index rebuild), not positions."""
        self._done = 0

        def report(step: int, total: int) -> None:
            self._done += step
            self.set(stage, self._done, total, force=self._done >= total)

        return report

    def set(self, stage: str, done: int, total: int, *, force: bool = False) -> None:
        now = time.monotonic()
        with self._guard:
            if not force and now - self._last < _PROGRESS_INTERVAL_SECONDS:
                return
            self._last = now
        with self._db.write() as session:
            uploads = DocumentData(session, self._org_id)
            job = uploads.job(self._job_id)
            if job is not None:
                uploads.set_job_progress(job, stage=stage, done=done, total=total)

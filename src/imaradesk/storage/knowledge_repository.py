"""Reads and writes of one organization's uploaded documents, ingestion jobs and entries.

Entry text is sealed at rest, so searching it happens on opened rows in Python, not in SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from imaradesk.storage.models import (
    DocumentStatus,
    IngestionJob,
    KnowledgeDocument,
    KnowledgeEntry,
    KnowledgePhrasing,
)
from imaradesk.storage.repositories import OrgData

UNFINISHED = (DocumentStatus.QUEUED, DocumentStatus.PROCESSING)


class KnowledgeData:
    """One organization's knowledge rows; like ``OrgData``, every query names the organization."""

    def __init__(self, session: Session, org_id: int) -> None:
        self._session = session
        self._org = OrgData(session, org_id)
        self.org_id = org_id

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

    def add_document(self, **fields: Any) -> KnowledgeDocument:
        document = KnowledgeDocument(org_id=self.org_id, **fields)
        self._session.add(document)
        self._session.flush()
        return document

    def update(self, row: KnowledgeDocument | IngestionJob, **changes: Any) -> None:
        if row.org_id != self.org_id:
            raise PermissionError(f"{type(row).__name__} belongs to another organization")
        for name, value in changes.items():
            setattr(row, name, value)
        self._session.add(row)

    def delete_document(self, document: KnowledgeDocument) -> int:
        """Remove the document, its jobs and the entries read from it; returns entries removed."""
        if document.org_id != self.org_id:
            raise PermissionError("document belongs to another organization")
        removed = 0
        for entry in self.entries_from(document.name):
            self._org._delete_entry(entry)
            removed += 1
        self._session.execute(
            delete(IngestionJob).where(
                IngestionJob.org_id == self.org_id, IngestionJob.document_id == document.id
            )
        )
        self._session.delete(document)
        self._session.flush()
        if removed:
            self._org._bump_kb_revision()
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

    # -- entries ---------------------------------------------------------------------------------

    def entries(self) -> Sequence[KnowledgeEntry]:
        return self._org.entries()

    def entries_from(self, source: str) -> Sequence[KnowledgeEntry]:
        return self._session.exec(
            select(KnowledgeEntry)
            .where(KnowledgeEntry.org_id == self.org_id, KnowledgeEntry.source == source)
            .order_by(col(KnowledgeEntry.position), col(KnowledgeEntry.id))
        ).all()

    def entry(self, entry_id: int) -> KnowledgeEntry | None:
        return self._session.exec(
            select(KnowledgeEntry).where(
                KnowledgeEntry.org_id == self.org_id, KnowledgeEntry.id == entry_id
            )
        ).first()

    def external_id_taken(self, external_id: str) -> bool:
        count = self._session.exec(
            select(func.count())
            .select_from(KnowledgeEntry)
            .where(KnowledgeEntry.org_id == self.org_id, KnowledgeEntry.external_id == external_id)
        ).one()
        return bool(count)

    def phrasings_of(self, entry_id: int) -> list[str]:
        rows = self._session.exec(
            select(KnowledgePhrasing)
            .where(KnowledgePhrasing.org_id == self.org_id, KnowledgePhrasing.entry_id == entry_id)
            .order_by(col(KnowledgePhrasing.position), col(KnowledgePhrasing.id))
        ).all()
        return [p.text for p in rows]

    def phrasings_by_entry(self) -> dict[int, tuple[str, ...]]:
        rows = self._session.exec(
            select(KnowledgePhrasing)
            .where(KnowledgePhrasing.org_id == self.org_id)
            .order_by(col(KnowledgePhrasing.position), col(KnowledgePhrasing.id))
        ).all()
        out: dict[int, list[str]] = {}
        for phrasing in rows:
            out.setdefault(phrasing.entry_id, []).append(phrasing.text)
        return {entry_id: tuple(texts) for entry_id, texts in out.items()}

    def add_entry(self, **fields: Any) -> KnowledgeEntry:
        entry = KnowledgeEntry(org_id=self.org_id, **fields)
        self._session.add(entry)
        self._session.flush()
        self._org._bump_kb_revision()
        return entry

    def update_entry(self, entry: KnowledgeEntry, **changes: Any) -> None:
        if entry.org_id != self.org_id:
            raise PermissionError("entry belongs to another organization")
        for name, value in changes.items():
            setattr(entry, name, value)
        self._session.add(entry)
        self._org._bump_kb_revision()

    def replace_phrasings(self, entry: KnowledgeEntry, texts: Sequence[str]) -> None:
        """Set the entry's phrasings; unchanged texts keep their rows (and so their vectors)."""
        existing = self._session.exec(
            select(KnowledgePhrasing).where(
                KnowledgePhrasing.org_id == self.org_id, KnowledgePhrasing.entry_id == entry.id
            )
        ).all()
        by_text = {p.text: p for p in existing}
        for position, text in enumerate(texts):
            kept = by_text.pop(text, None)
            if kept is None:
                kept = KnowledgePhrasing(org_id=self.org_id, entry_id=entry.id, text=text)
            kept.position = position
            self._session.add(kept)
        for stale in by_text.values():
            self._session.delete(stale)
        self._session.flush()
        self._org._bump_kb_revision()

    def delete_entry(self, entry: KnowledgeEntry) -> None:
        if entry.org_id != self.org_id:
            raise PermissionError("entry belongs to another organization")
        self._org._delete_entry(entry)
        self._session.flush()
        self._org._bump_kb_revision()


def unfinished_jobs(session: Session) -> list[tuple[int, int]]:
    """(org id, job id) of every job a stopped process left queued or running, all orgs."""
    rows = session.exec(
        select(IngestionJob.org_id, IngestionJob.id)
        .where(col(IngestionJob.status).in_(list(UNFINISHED)))
        .order_by(col(IngestionJob.id))
    ).all()
    return [(int(org_id), int(job_id)) for org_id, job_id in rows if job_id is not None]

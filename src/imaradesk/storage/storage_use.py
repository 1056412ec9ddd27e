"""How much an organization stores: its messages, kept media and documents, in bytes."""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import select

from imaradesk.storage.db import Database
from imaradesk.storage.models import KnowledgeDocument, MediaFile, Message


def stored_bytes(database: Database, org_id: int) -> int:
    with database.read() as session:
        messages = session.exec(
            select(func.coalesce(func.sum(func.length(Message.body)), 0)).where(
                Message.org_id == org_id
            )
        ).one()
        media = session.exec(
            select(func.coalesce(func.sum(MediaFile.size), 0)).where(MediaFile.org_id == org_id)
        ).one()
        documents = session.exec(
            select(func.coalesce(func.sum(KnowledgeDocument.size_bytes), 0)).where(
                KnowledgeDocument.org_id == org_id
            )
        ).one()
    return int(messages) + int(media) + int(documents)

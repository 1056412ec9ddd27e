"""An organization's approved message templates (WhatsApp's only way back after 24 hours)."""

from __future__ import annotations

from sqlmodel import col, select

from imaradesk.storage.db import Database
from imaradesk.storage.models import MessageTemplate


class TemplatesRepository:
    def __init__(self, database: Database) -> None:
        self._db = database

    def templates(self, *, org_id: int) -> list[MessageTemplate]:
        with self._db.read() as session:
            return list(
                session.exec(
                    select(MessageTemplate)
                    .where(MessageTemplate.org_id == org_id)
                    .order_by(col(MessageTemplate.id))
                ).all()
            )

    def template(self, *, org_id: int, template_id: int) -> MessageTemplate | None:
        with self._db.read() as session:
            return session.exec(
                select(MessageTemplate).where(
                    MessageTemplate.org_id == org_id, MessageTemplate.id == template_id
                )
            ).first()

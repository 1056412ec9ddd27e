"""An organization's approved message templates (WhatsApp's only way back after 24 hours)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import col, select

from imaradesk.storage.db import Database
from imaradesk.storage.models import MessageTemplate


@dataclass(frozen=True)
class TemplateFields:
    reference: str  # a Twilio Content SID, or Meta's "name:language"
    name: str
    body: str


@dataclass(frozen=True)
class TemplateChanges:
    added: int
    updated: int
    removed: int


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

    def replace_provider_templates(
        self, *, org_id: int, provider: str, templates: Sequence[TemplateFields]
    ) -> TemplateChanges:
        """Make the organization's ``provider`` templates exactly ``templates`` (matched by
        reference); the other provider's are untouched. Ids of kept templates stay."""
        with self._db.write() as session:
            existing = {
                t.content_sid: t
                for t in session.exec(
                    select(MessageTemplate).where(
                        MessageTemplate.org_id == org_id, MessageTemplate.provider == provider
                    )
                ).all()
            }
            wanted = {t.reference: t for t in templates}
            added = updated = 0
            for reference, fields in wanted.items():
                row = existing.get(reference)
                if row is None:
                    added += 1
                    row = MessageTemplate(
                        org_id=org_id, provider=provider, content_sid=reference, name="", body=""
                    )
                elif (row.name, row.body) == (fields.name, fields.body):
                    continue
                else:
                    updated += 1
                row.name, row.body = fields.name, fields.body
                session.add(row)
            gone = [row for reference, row in existing.items() if reference not in wanted]
            for row in gone:
                session.delete(row)
            return TemplateChanges(added, updated, len(gone))

    def template(self, *, org_id: int, template_id: int) -> MessageTemplate | None:
        with self._db.read() as session:
            return session.exec(
                select(MessageTemplate).where(
                    MessageTemplate.org_id == org_id, MessageTemplate.id == template_id
                )
            ).first()

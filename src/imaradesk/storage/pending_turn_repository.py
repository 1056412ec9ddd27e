"""Accepted messages waiting for their turn: added by webhooks, taken by workers, resumed by
the sweeper when their job was lost or their time has come."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_, update
from sqlmodel import col, select

from imaradesk.storage.db import Database
from imaradesk.storage.errors import DuplicateRecord
from imaradesk.storage.models import PendingTurn
from imaradesk.storage.repositories import OrgData


@dataclass(frozen=True)
class NewPending:
    channel: str
    sender_id: str
    provider_message_id: str
    sealed: bytes
    received_at: datetime
    not_before: datetime
    queued_at: datetime | None


class PendingTurnStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    def add(self, org_id: int, pending: NewPending) -> int | None:
        """The new row's id, or None when this delivery is pending already (a retry)."""
        try:
            with self._db.write() as session:
                data = OrgData(session, org_id)
                row = PendingTurn(
                    org_id=org_id,
                    sender_hash=data.identity_hash(pending.channel, pending.sender_id),
                    delivery_hash=data.delivery_key(
                        pending.channel, pending.sender_id, pending.provider_message_id
                    ),
                    sealed=pending.sealed,
                    received_at=pending.received_at,
                    not_before=pending.not_before,
                    queued_at=pending.queued_at,
                )
                session.add(row)
                session.flush()
                return row.id
        except DuplicateRecord:
            return None

    def get(self, org_id: int, pending_id: int) -> PendingTurn | None:
        with self._db.read() as session:
            return session.exec(
                select(PendingTurn).where(
                    PendingTurn.org_id == org_id, PendingTurn.id == pending_id
                )
            ).first()

    def started(self, org_id: int, pending_id: int) -> None:
        with self._db.write() as session:
            session.execute(
                update(PendingTurn)
                .where(col(PendingTurn.org_id) == org_id, col(PendingTurn.id) == pending_id)
                .values(attempts=PendingTurn.attempts + 1)
            )

    def done(self, org_id: int, pending_id: int) -> None:
        with self._db.write() as session:
            session.execute(
                delete(PendingTurn).where(
                    col(PendingTurn.org_id) == org_id, col(PendingTurn.id) == pending_id
                )
            )

    def due_organizations(
        self, now: datetime, *, queued_before: datetime, max_attempts: int
    ) -> Sequence[int]:
        """Organizations with a message to look at (ids only: the one query that looks
        across organizations, so the sweeper can take each in turn)."""
        with self._db.read() as session:
            return session.exec(
                select(PendingTurn.org_id).where(*_due(now, queued_before, max_attempts)).distinct()
            ).all()

    def due(
        self, org_id: int, now: datetime, *, queued_before: datetime, max_attempts: int, limit: int
    ) -> Sequence[PendingTurn]:
        """The organization's messages whose time has come and that no job took since
        ``queued_before``, oldest first."""
        with self._db.read() as session:
            return session.exec(
                select(PendingTurn)
                .where(PendingTurn.org_id == org_id, *_due(now, queued_before, max_attempts))
                .order_by(col(PendingTurn.received_at), col(PendingTurn.id))
                .limit(limit)
            ).all()

    def queued(self, org_id: int, pending_ids: Sequence[int], now: datetime) -> None:
        with self._db.write() as session:
            session.execute(
                update(PendingTurn)
                .where(col(PendingTurn.org_id) == org_id, col(PendingTurn.id).in_(pending_ids))
                .values(queued_at=now)
            )

    def postpone(self, org_id: int, pending_ids: Sequence[int], until: datetime) -> None:
        with self._db.write() as session:
            session.execute(
                update(PendingTurn)
                .where(col(PendingTurn.org_id) == org_id, col(PendingTurn.id).in_(pending_ids))
                .values(not_before=until)
            )


def _due(now: datetime, queued_before: datetime, max_attempts: int) -> tuple[Any, ...]:
    return (
        col(PendingTurn.not_before) <= now,
        col(PendingTurn.attempts) < max_attempts,
        or_(col(PendingTurn.queued_at).is_(None), col(PendingTurn.queued_at) <= queued_before),
    )

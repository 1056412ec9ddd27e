"""AI usage rows: one per provider call, never the text."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select

from imaradesk.storage.db import Database
from imaradesk.storage.errors import StorageUnavailable
from imaradesk.storage.models import AIUsage


@dataclass(frozen=True)
class UsageEntry:
    """What one AI call cost; the caller has clipped and checked the values."""

    org_id: int
    provider: str
    model: str
    purpose: str
    outcome: str
    input_tokens: int
    output_tokens: int
    latency_ms: int
    at: datetime


class UsageRecords:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, entry: UsageEntry) -> AIUsage:
        row = AIUsage(
            org_id=entry.org_id,
            provider=entry.provider,
            model=entry.model,
            purpose=entry.purpose,
            outcome=entry.outcome,
            input_tokens=entry.input_tokens,
            output_tokens=entry.output_tokens,
            latency_ms=entry.latency_ms,
            created_at=entry.at,
        )
        self._session.add(row)
        return row

    def since(self, *, org_id: int, since: datetime) -> Sequence[AIUsage]:
        """The organization's rows from ``since`` on, oldest first."""
        return self._session.exec(
            select(AIUsage)
            .where(AIUsage.org_id == org_id, col(AIUsage.created_at) >= since)
            .order_by(col(AIUsage.created_at))
        ).all()


def store_usage(database: Database, entry: UsageEntry) -> None:
    """Write one usage row in a transaction of its own.

    Raises:
        StorageUnavailable: the row could not be written (the cause is chained).
    """
    try:
        with database.write() as session:
            UsageRecords(session).add(entry)
    except SQLAlchemyError as e:
        raise StorageUnavailable("could not store AI usage") from e

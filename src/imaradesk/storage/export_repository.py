"""Reads for the exports that leave the product: training examples and daily counts.

Only organizations that allow it are read: not those excluded from training, not those whose
data key was destroyed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlmodel import Session, col, select

from imaradesk.storage.models import AnalyticsDaily, Direction, Message, Organization


class ExportData:
    def __init__(self, session: Session) -> None:
        self._session = session

    def included_organizations(self) -> Sequence[Organization]:
        return self._session.exec(
            select(Organization)
            .where(
                col(Organization.exclude_from_training).is_(False),
                col(Organization.data_destroyed_at).is_(None),
            )
            .order_by(col(Organization.id))
        ).all()

    def consented_questions(self, org_id: int) -> Sequence[Message]:
        """Inbound messages the bot processed under consent, oldest first."""
        return self._session.exec(
            select(Message)
            .where(Message.org_id == org_id, Message.direction == Direction.INBOUND)
            .where(col(Message.ai_processed).is_(True), Message.lawful_basis == "consent")
            .order_by(col(Message.id))
        ).all()

    def daily_counts(self, org_refs: Iterable[str]) -> Sequence[AnalyticsDaily]:
        return self._session.exec(
            select(AnalyticsDaily)
            .where(col(AnalyticsDaily.org_ref).in_(list(org_refs)))
            .order_by(col(AnalyticsDaily.org_ref), col(AnalyticsDaily.day))
        ).all()

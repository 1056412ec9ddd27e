"""The rows knowledge insights read: recent customer questions the bot could not answer."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, or_, select

from imaradesk.storage.models import Contact, Direction, Message
from imaradesk.storage.scoped import OrgScoped


@dataclass(frozen=True)
class AskedQuestion:
    text: str
    asked_at: datetime
    # The customer's name, so that it can be masked wherever it appears in the text.
    display_name: str | None


class InsightsData(OrgScoped):
    def questions_answered_by(
        self,
        *,
        outcomes: Collection[str],
        handoff_reasons: Collection[str],
        since: datetime,
        limit: int,
    ) -> Sequence[AskedQuestion]:
        """Customers' messages whose reply had one of ``outcomes``, or handed off for one of
        ``handoff_reasons``; newest replies first, restricted contacts left out (they asked us
        to stop processing their data beyond the chat)."""
        replies = self._session.exec(
            select(Message.reply_to_id)
            .where(
                Message.org_id == self.org_id,
                Message.direction == Direction.OUTBOUND,
                col(Message.reply_to_id).is_not(None),
                Message.created_at >= since,
                or_(
                    col(Message.outcome).in_(list(outcomes)),
                    col(Message.handoff_reason).in_(list(handoff_reasons))
                    & (Message.outcome == "handoff"),
                ),
            )
            .order_by(col(Message.id).desc())
            .limit(limit)
        ).all()
        ids = [r for r in dict.fromkeys(replies) if r is not None]
        if not ids:
            return []
        rows = self._session.exec(
            select(Message, Contact)
            .join(Contact, col(Contact.id) == col(Message.contact_id))
            .where(Message.org_id == self.org_id, col(Message.id).in_(ids))
        ).all()
        return [
            AskedQuestion(message.body, message.created_at, contact.display_name)
            for message, contact in rows
            if not contact.restricted and message.body.strip()
        ]

"""Outbound messages: storing them before they are sent, recording attempts and statuses, and
the mailbox that pull channels (web chat, Rasa REST) read on the customer's next poll.

Status rules (which status may replace which) are delivery's; callers pass the statuses a new
one may replace, so the check and the write happen in one transaction.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, and_, or_, update
from sqlmodel import Session, col, select

from imaradesk.storage.db import Database
from imaradesk.storage.models import Contact, Conversation, Direction, LawfulBasis, Message
from imaradesk.storage.repositories import OrgData

# The status a pull channel's message has while it waits for the customer to fetch it (the same
# string as channels.base.AWAITING_POLL; storage does not import channels).
AWAITING_POLL = "awaiting_poll"
# Statuses of a pull channel's message not yet fetched ("queued": stored, not yet held).
_NOT_FETCHED = ("queued", AWAITING_POLL)
QUEUED, FAILED = "queued", "failed"
# A push channel's reply that one sender has claimed and is sending.
SENDING = "sending"


@dataclass(frozen=True)
class UnsentReplies:
    conversation: Conversation
    replies: tuple[Message, ...]


@dataclass(frozen=True)
class StatusOutcome:
    found: bool
    applied: bool
    status: str | None


class DeliveryRepository:
    """Reads and writes of outbound delivery, each scoped to one organization."""

    def __init__(self, database: Database) -> None:
        self._db = database

    # -- reading ---------------------------------------------------------------------------------

    def last_inbound_at(self, *, org_id: int, conversation_id: int) -> datetime | None:
        """When the customer last wrote in this conversation."""
        with self._db.read() as session:
            return session.exec(
                select(Message.created_at)
                .where(
                    Message.org_id == org_id,
                    Message.conversation_id == conversation_id,
                    Message.direction == Direction.INBOUND,
                )
                .order_by(col(Message.created_at).desc())
            ).first()

    def contact(self, *, org_id: int, contact_id: int) -> Contact | None:
        with self._db.read() as session:
            contact = session.get(Contact, contact_id)
        return contact if contact is not None and contact.org_id == org_id else None

    def unsent_replies(
        self, *, org_id: int, inbound_message_id: int, now: datetime, claim_for: timedelta
    ) -> UnsentReplies | None:
        """Claim the bot's replies to an inbound message that have not gone out yet.

        A reply is claimed (status "sending") by one sender at a time: a redelivered webhook
        and the worker still sending the first one must not both send it. A claim older than
        ``claim_for`` is a sender that died, and is taken over.
        """
        with self._db.write() as session:
            data = OrgData(session, org_id)
            inbound = data.get_message(inbound_message_id)
            if inbound is None:
                return None
            conversation = session.get(Conversation, inbound.conversation_id)
            if conversation is None or conversation.org_id != org_id:
                return None
            claimed: list[Message] = []
            for reply in data.replies_to(inbound_message_id):
                if reply.provider_message_id is not None:
                    continue
                result = session.execute(
                    update(Message)
                    .where(
                        col(Message.id) == reply.id,
                        col(Message.provider_message_id).is_(None),
                        or_(
                            col(Message.delivery_status).is_(None),
                            col(Message.delivery_status).in_((QUEUED, FAILED)),
                            and_(
                                col(Message.delivery_status) == SENDING,
                                col(Message.delivery_updated_at) < now - claim_for,
                            ),
                        ),
                    )
                    .values(delivery_status=SENDING, delivery_updated_at=now)
                    # Reloaded below: the sealing hooks must see a whole row, not a patch.
                    .execution_options(synchronize_session=False)
                )
                if cast(CursorResult[Any], result).rowcount == 1:
                    session.refresh(reply)
                    claimed.append(reply)
        return UnsentReplies(conversation, tuple(claimed))

    def replies_in_flight(self, *, org_id: int, inbound_message_id: int) -> bool:
        """Whether a bot reply to this message is claimed by a sender and not yet sent."""
        with self._db.read() as session:
            found = session.exec(
                select(Message.id).where(
                    Message.org_id == org_id,
                    Message.reply_to_id == inbound_message_id,
                    Message.direction == Direction.OUTBOUND,
                    col(Message.agent_id).is_(None),
                    col(Message.provider_message_id).is_(None),
                    Message.delivery_status == SENDING,
                )
            ).first()
        return found is not None

    def unsent_reply_turns(
        self, *, channels: Collection[str], since: datetime, before: datetime
    ) -> list[tuple[int, int]]:
        """(org id, inbound message id) of turns on ``channels`` with a bot reply never handed
        to the channel: stored between ``since`` and ``before``, not sent (a process stopped
        first). Only channels that never answer in the webhook's own response: a reply given
        in Twilio's TwiML has no provider id either."""
        with self._db.read() as session:
            rows = session.exec(
                select(Message.org_id, Message.reply_to_id)
                .where(
                    Message.direction == Direction.OUTBOUND,
                    col(Message.reply_to_id).is_not(None),
                    col(Message.agent_id).is_(None),
                    col(Message.channel).in_(list(channels)),
                    col(Message.provider_message_id).is_(None),
                    or_(
                        col(Message.delivery_status).is_(None),
                        col(Message.delivery_status) == SENDING,
                    ),
                    col(Message.created_at) >= since,
                    col(Message.created_at) < before,
                )
                .distinct()
            ).all()
        return [(org_id, reply_to) for org_id, reply_to in rows if reply_to is not None]

    def outbound_message(
        self, *, org_id: int, conversation_id: int, message_id: int
    ) -> Message | None:
        """One of our messages in this conversation, or None."""
        with self._db.read() as session:
            row = OrgData(session, org_id).get_message(message_id)
        if row is None or row.conversation_id != conversation_id:
            return None
        return row if row.direction == Direction.OUTBOUND else None

    # -- writing ---------------------------------------------------------------------------------

    def store_outbound(
        self,
        *,
        org_id: int,
        conversation_id: int,
        body: str,
        kind: str,
        agent_id: int | None,
        template_sid: str | None,
        delivery_status: str,
        now: datetime,
        retain_until: datetime,
        options: list[dict[str, str]] | None = None,
    ) -> Message:
        """Store a message before it is sent, under the customer's latest consent."""
        with self._db.write() as session:
            data = OrgData(session, org_id)
            conversation = _owned_conversation(session, org_id, conversation_id)
            consent = data.latest_consent(conversation.contact_id)
            row = Message(
                org_id=org_id,
                conversation_id=conversation_id,
                contact_id=conversation.contact_id,
                direction=Direction.OUTBOUND,
                channel=conversation.channel,
                kind=kind,
                body=body,
                options=options or [],
                agent_id=agent_id,
                template_sid=template_sid,
                delivery_status=delivery_status,
                consent_record_id=consent.id if consent else None,
                lawful_basis=LawfulBasis.CONSENT,
                created_at=now,
                retain_until=retain_until,
                legal_hold=conversation.legal_hold,
            )
            session.add(row)
            conversation.last_message_at = now
            session.add(conversation)
            session.flush()
            return row

    def shorten(self, *, org_id: int, message_id: int, body: str) -> Message:
        """Replace a stored, unsent message's body (its first part, when it is split)."""
        with self._db.write() as session:
            row = _owned_message(session, org_id, message_id)
            row.body = body
            session.add(row)
            return row

    def record_attempt(
        self,
        *,
        org_id: int,
        message_id: int,
        status: str,
        replaces: Collection[str | None] | None,
        provider_message_id: str | None,
        error_code: str | None,
        now: datetime,
    ) -> Message:
        """Count one delivery attempt and its outcome.

        ``status`` is written when the stored status is in ``replaces`` (always when None): a
        fast status report may already have said "delivered", and that must not go back.
        """
        with self._db.write() as session:
            row = _owned_message(session, org_id, message_id)
            if provider_message_id is not None:
                row.provider_message_id = provider_message_id
            row.delivery_error_code = error_code
            if replaces is None or row.delivery_status in replaces:
                row.delivery_status = status
            row.send_attempts += 1
            row.delivery_updated_at = now
            session.add(row)
            return row

    def apply_report(
        self,
        *,
        org_id: int,
        channel: str,
        provider_message_id: str,
        our_message_id: int | None,
        status: str,
        error_code: str | None,
        replaces: Collection[str | None],
        now: datetime,
        pricing_category: str | None = None,
    ) -> StatusOutcome:
        """Apply a provider's status report to the outbound message it is about.

        A pricing category (Meta's: service, utility, marketing, authentication) is kept
        whenever a report names one, late or not: it is what the message costs.
        """
        with self._db.write() as session:
            data = OrgData(session, org_id)
            message = data.find_message(
                channel=channel,
                direction=Direction.OUTBOUND,
                provider_message_id=provider_message_id,
            )
            if message is None and our_message_id is not None:
                candidate = data.get_message(our_message_id)
                if (
                    candidate is not None
                    and candidate.direction == Direction.OUTBOUND
                    and candidate.channel == channel
                ):
                    message = candidate
            if message is None:
                return StatusOutcome(found=False, applied=False, status=None)
            changed = False
            if message.provider_message_id is None:
                message.provider_message_id = provider_message_id
                changed = True
            applied = message.delivery_status in replaces
            if applied:
                message.delivery_status = status
                message.delivery_error_code = error_code
                message.delivery_updated_at = now
                changed = True
            if pricing_category and message.pricing_category != pricing_category:
                message.pricing_category = pricing_category
                changed = True
            if changed:
                session.add(message)
            return StatusOutcome(found=True, applied=applied, status=message.delivery_status)

    def apply_reaction(
        self,
        *,
        org_id: int,
        channel: str,
        sender_id: str,
        provider_message_id: str,
        emoji: str | None,
    ) -> bool:
        """Keep the customer's reaction on the message it is about; False when that message
        is unknown or is not in this customer's conversation."""
        with self._db.write() as session:
            data = OrgData(session, org_id)
            contact = data.find_contact(channel, sender_id)
            if contact is None:
                return False
            for direction in (Direction.OUTBOUND, Direction.INBOUND):
                message = data.find_message(
                    channel=channel,
                    direction=direction,
                    provider_message_id=provider_message_id,
                    contact_id=contact.id,
                )
                if message is not None:
                    message.reaction = emoji
                    session.add(message)
                    return True
            return False


class PollOutbox:
    """The pull channels' mailbox (``channels.base.PollMailbox``) and what their polls read."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def hold(self, *, org_id: int, message_id: int) -> None:
        with self._db.write() as session:
            row = _owned_message(session, org_id, message_id)
            # A poll may already have fetched it (and said "delivered"): never go back.
            if row.delivery_status in (None, "queued", "failed"):
                row.delivery_status = AWAITING_POLL
                session.add(row)

    def collect_since(
        self, *, org_id: int, channel: str, address: str, after_id: int, now: datetime
    ) -> list[Message]:
        """What we sent this customer outside the bot's replies since ``after_id`` (web chat
        polls by the last id it has); those waiting are now delivered."""
        newer = col(Message.id) > after_id
        return self._collect(org_id=org_id, channel=channel, address=address, now=now, only=newer)

    def collect_waiting(
        self, *, org_id: int, channel: str, address: str, now: datetime
    ) -> list[Message]:
        """What waits for this customer and was never fetched (Rasa REST has no ids to poll
        by); now delivered."""
        waiting = col(Message.delivery_status).in_(_NOT_FETCHED)
        return self._collect(org_id=org_id, channel=channel, address=address, now=now, only=waiting)

    def history(
        self, *, org_id: int, channel: str, address: str, limit: int, now: datetime
    ) -> list[Message]:
        """The customer's last ``limit`` messages on the channel, both ways, oldest first (what
        a web chat shows again after a reload); held messages among them are now delivered."""
        with self._db.write() as session:
            rows = _customer_messages(session, org_id, channel, address, last=limit)
            _mark_fetched(session, rows, now)
            return rows

    def _collect(
        self,
        *,
        org_id: int,
        channel: str,
        address: str,
        now: datetime,
        only: ColumnElement[bool],
    ) -> list[Message]:
        """The customer's messages from people that ``only`` selects, marked delivered."""
        with self._db.write() as session:
            rows = _customer_messages(
                session,
                org_id,
                channel,
                address,
                col(Message.direction) == Direction.OUTBOUND,
                col(Message.reply_to_id).is_(None),
                only,
            )
            _mark_fetched(session, rows, now)
            return rows


def _customer_messages(
    session: Session,
    org_id: int,
    channel: str,
    address: str,
    *where: ColumnElement[bool],
    last: int | None = None,
) -> list[Message]:
    """The customer's messages on the channel that ``where`` selects, oldest first (only the
    ``last`` ones, when given)."""
    conversation_ids = _conversation_ids(session, org_id, channel, address)
    if not conversation_ids:
        return []
    query = select(Message).where(
        Message.org_id == org_id, col(Message.conversation_id).in_(conversation_ids), *where
    )
    if last is None:
        return list(session.exec(query.order_by(col(Message.id))).all())
    newest = list(session.exec(query.order_by(col(Message.id).desc()).limit(last)).all())
    return newest[::-1]


def _conversation_ids(session: Session, org_id: int, channel: str, address: str) -> list[int]:
    data = OrgData(session, org_id)
    contact = data.find_contact(channel, address)
    if contact is None or contact.id is None:
        return []
    return [c.id for c in data.conversations_of(contact.id) if c.id is not None]


def _mark_fetched(session: Session, rows: list[Message], now: datetime) -> None:
    for row in rows:
        if row.delivery_status in _NOT_FETCHED:
            row.delivery_status = "delivered"
            row.delivery_updated_at = now
            session.add(row)


def _owned_conversation(session: Session, org_id: int, conversation_id: int) -> Conversation:
    conversation = session.get(Conversation, conversation_id)
    if conversation is None or conversation.org_id != org_id:
        raise LookupError(f"no conversation #{conversation_id}")
    return conversation


def _owned_message(session: Session, org_id: int, message_id: int) -> Message:
    row = OrgData(session, org_id).get_message(message_id)
    if row is None:
        raise LookupError(f"no message #{message_id}")
    return row

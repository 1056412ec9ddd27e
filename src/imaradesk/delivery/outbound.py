"""Messages a person (or the bot, after a person) sends outside a webhook's reply.

They go out through the channel the customer used: Twilio's REST API for WhatsApp and SMS,
the customer's next poll for web chat. Every one is stored first, so that a failed send is
shown (and can be retried), never lost. WhatsApp's customer-service window is enforced: more
than 24 hours after the customer's last message only approved templates may be sent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import col, select

from imaradesk.channels.base import split_text
from imaradesk.channels.twilio import TWILIO_MAX_BODY, status_supersedes
from imaradesk.channels.twilio_sender import SendFailed, TwilioSender
from imaradesk.policies.retention import retain_until
from imaradesk.runtime.clock import Clock
from imaradesk.storage.db import Database
from imaradesk.storage.models import (
    Contact,
    Conversation,
    Direction,
    LawfulBasis,
    Message,
    MessageTemplate,
    Organization,
)
from imaradesk.storage.repositories import OrgData

log = logging.getLogger(__name__)
SERVICE_WINDOW = timedelta(hours=24)
TWILIO_CHANNELS = ("whatsapp", "sms")
WEBCHAT_PENDING = "awaiting_poll"


class OutboundError(Exception):
    pass


class OptedOut(OutboundError):
    """The customer withdrew consent with STOP."""


class WindowClosed(OutboundError):
    """More than 24 hours since the customer's last message: templates only."""


@dataclass(frozen=True)
class SendResult:
    messages: tuple[Message, ...]
    failed: int


class OutboundService:
    def __init__(
        self,
        *,
        database: Database,
        sender: TwilioSender,
        clock: Clock,
        public_base_url: str | None,
    ) -> None:
        self._db = database
        self._sender = sender
        self._clock = clock
        self._base_url = public_base_url.rstrip("/") if public_base_url else None

    # -- the window ----------------------------------------------------------------------------

    def last_customer_message_at(self, org: Organization, conversation_id: int) -> datetime | None:
        with self._db.read() as session:
            return session.exec(
                select(Message.created_at)
                .where(
                    Message.org_id == org.id,
                    Message.conversation_id == conversation_id,
                    Message.direction == Direction.INBOUND,
                )
                .order_by(col(Message.created_at).desc())
            ).first()

    def window_open(self, org: Organization, conversation: Conversation) -> bool:
        # The 24-hour customer-service window is WhatsApp's rule; SMS and web chat have none.
        if conversation.channel != "whatsapp":
            return True
        assert conversation.id is not None
        last = self.last_customer_message_at(org, conversation.id)
        return last is not None and self._clock.now() - last <= SERVICE_WINDOW

    def templates(self, org: Organization) -> list[MessageTemplate]:
        with self._db.read() as session:
            return list(
                session.exec(select(MessageTemplate).where(MessageTemplate.org_id == org.id)).all()
            )

    # -- sending -------------------------------------------------------------------------------

    def send_text(
        self,
        org: Organization,
        conversation: Conversation,
        text: str,
        *,
        agent_id: int | None,
        kind: str = "agent",
    ) -> SendResult:
        """Send free text, split under the channel's limit.

        Raises:
            WindowClosed: the WhatsApp window has closed; send a template instead.
        """
        if not text.strip():
            raise OutboundError("the message is empty")
        self._check_not_opted_out(org, conversation)
        if not self.window_open(org, conversation):
            raise WindowClosed(
                "more than 24 hours since the customer's last message: use an approved template"
            )
        limit = TWILIO_MAX_BODY if conversation.channel in TWILIO_CHANNELS else 4096
        rows = [
            self._store(org, conversation, chunk, agent_id=agent_id, kind=kind)
            for chunk in split_text(text, limit)
        ]
        return self._deliver(org, conversation, rows)

    def send_replies(self, org: Organization, inbound_message_id: int) -> SendResult:
        """Deliver the bot's stored replies to one inbound message (a turn run by a worker)."""
        assert org.id is not None
        with self._db.read() as session:
            data = OrgData(session, org.id)
            rows = [r for r in data.replies_to(inbound_message_id) if r.provider_message_id is None]
            inbound = data.get_message(inbound_message_id)
            conversation = (
                session.get(Conversation, inbound.conversation_id) if inbound is not None else None
            )
        if conversation is None or conversation.org_id != org.id or not rows:
            return SendResult((), 0)
        if conversation.channel in TWILIO_CHANNELS:
            rows = [part for row in rows for part in self._split_stored(org, conversation, row)]
        return self._deliver(org, conversation, rows)

    def _split_stored(
        self, org: Organization, conversation: Conversation, row: Message
    ) -> list[Message]:
        """A stored reply longer than one Twilio message becomes one row per part, in order."""
        chunks = split_text(row.body, TWILIO_MAX_BODY)
        if len(chunks) <= 1:
            return [row]
        assert org.id is not None and row.id is not None
        with self._db.write() as session:
            data = OrgData(session, org.id)
            first = data.get_message(row.id)
            assert first is not None
            data.update_message(first, body=chunks[0])
        rest = [
            self._store(org, conversation, chunk, agent_id=None, kind=row.kind)
            for chunk in chunks[1:]
        ]
        return [first, *rest]

    def send_template(
        self,
        org: Organization,
        conversation: Conversation,
        template_id: int,
        *,
        agent_id: int | None,
    ) -> SendResult:
        with self._db.read() as session:
            template = session.exec(
                select(MessageTemplate).where(
                    MessageTemplate.org_id == org.id, MessageTemplate.id == template_id
                )
            ).first()
        if template is None:
            raise OutboundError(f"no template #{template_id}")
        self._check_not_opted_out(org, conversation)
        row = self._store(
            org,
            conversation,
            template.body,
            agent_id=agent_id,
            kind="template",
            template_sid=template.content_sid,
        )
        return self._deliver(org, conversation, [row])

    def retry(self, org: Organization, conversation: Conversation, message_id: int) -> SendResult:
        with self._db.read() as session:
            row = OrgData(session, org.id).get_message(message_id)  # type: ignore[arg-type]
        if (
            row is None
            or row.conversation_id != conversation.id
            or row.direction != Direction.OUTBOUND
        ):
            raise OutboundError(f"no message #{message_id} in this conversation")
        if row.delivery_status != "failed":
            raise OutboundError("only a failed message can be retried")
        self._check_not_opted_out(org, conversation)
        return self._deliver(org, conversation, [row])

    def _check_not_opted_out(self, org: Organization, conversation: Conversation) -> None:
        with self._db.read() as session:
            contact = session.get(Contact, conversation.contact_id)
        if contact is not None and contact.org_id == org.id and contact.opted_out:
            raise OptedOut("the customer opted out (STOP): nothing is sent until they write START")

    def _store(
        self,
        org: Organization,
        conversation: Conversation,
        text: str,
        *,
        agent_id: int | None,
        kind: str,
        template_sid: str | None = None,
    ) -> Message:
        assert org.id is not None and conversation.id is not None
        now = self._clock.now()
        with self._db.write() as session:
            data = OrgData(session, org.id)
            contact_consent = data.latest_consent(conversation.contact_id)
            row = data.add_message(
                conversation_id=conversation.id,
                contact_id=conversation.contact_id,
                direction=Direction.OUTBOUND,
                channel=conversation.channel,
                kind=kind,
                body=text,
                agent_id=agent_id,
                template_sid=template_sid,
                delivery_status="queued"
                if conversation.channel in TWILIO_CHANNELS
                else WEBCHAT_PENDING,
                consent_record_id=contact_consent.id if contact_consent else None,
                lawful_basis=LawfulBasis.CONSENT,
                created_at=now,
                retain_until=retain_until(now, org.retention_days),
                legal_hold=conversation.legal_hold,
            )
            conversation_row = session.get(Conversation, conversation.id)
            if conversation_row is not None and conversation_row.org_id == org.id:
                conversation_row.last_message_at = now
                session.add(conversation_row)
            return row

    def _deliver(
        self, org: Organization, conversation: Conversation, rows: list[Message]
    ) -> SendResult:
        if conversation.channel not in TWILIO_CHANNELS:
            return SendResult(tuple(rows), 0)  # the web chat fetches them on its next poll
        failed = 0
        delivered: list[Message] = []
        with self._db.read() as session:
            contact = session.get(Contact, conversation.contact_id)
        if contact is None or contact.org_id != org.id:
            raise OutboundError("the conversation's contact no longer exists")
        for row in rows:
            assert row.id is not None
            changes: dict[str, object]
            try:
                if not (org.twilio_account_sid and org.twilio_auth_token and org.whatsapp_sender):
                    raise SendFailed(
                        "Twilio sending is not configured for this organization",
                        code="config",
                        retryable=False,
                    )
                whatsapp = conversation.channel == "whatsapp"
                prefix = "whatsapp:" if whatsapp else ""
                # One Twilio number serves both: "whatsapp:+1..." for WhatsApp, "+1..." for SMS.
                sender = org.whatsapp_sender
                sender = sender if whatsapp else sender.removeprefix("whatsapp:")
                sent = self._sender.send(
                    account_sid=org.twilio_account_sid,
                    auth_token=org.twilio_auth_token,
                    from_=sender,
                    to=f"{prefix}{contact.address}",
                    body=None if row.template_sid else row.body,
                    content_sid=row.template_sid,
                    status_callback=self._status_url(org, row.id),
                )
                changes = {"provider_message_id": sent.sid, "delivery_error_code": None}
                status: str | None = sent.status
            except SendFailed as e:
                failed += 1
                log.warning("outbound message failed", extra={"org_id": org.id, "code": e.code})
                changes = {"delivery_error_code": e.code}
                status = "failed"
            with self._db.write() as session:
                data = OrgData(session, org.id)  # type: ignore[arg-type]
                fresh = data.get_message(row.id)
                assert fresh is not None
                current = (
                    None if fresh.delivery_status in (None, "failed") else fresh.delivery_status
                )
                # A fast status callback may already have said "delivered": never go back.
                if status == "failed" or status_supersedes(status, current):
                    changes["delivery_status"] = status
                data.update_message(
                    fresh,
                    send_attempts=fresh.send_attempts + 1,
                    delivery_updated_at=self._clock.now(),
                    **changes,
                )
                delivered.append(fresh)
        return SendResult(tuple(delivered), failed)

    def _status_url(self, org: Organization, message_id: int) -> str | None:
        if not self._base_url:
            return None
        return f"{self._base_url}/channels/twilio/{org.slug}/status?m={message_id}"

    # -- web chat polling ----------------------------------------------------------------------

    def pending_for_webchat(
        self, org: Organization, conversation_ids: list[int], after_id: int
    ) -> list[Message]:
        """Messages a person sent to a web-chat visitor since ``after_id``; marks them delivered."""
        if not conversation_ids:
            return []
        now = self._clock.now()
        with self._db.write() as session:
            rows = list(
                session.exec(
                    select(Message)
                    .where(
                        Message.org_id == org.id,
                        col(Message.conversation_id).in_(conversation_ids),
                        Message.direction == Direction.OUTBOUND,
                        col(Message.reply_to_id).is_(None),
                        Message.id > after_id,
                    )
                    .order_by(col(Message.id))
                ).all()
            )
            for row in rows:
                if row.delivery_status == WEBCHAT_PENDING:
                    row.delivery_status = "delivered"
                    row.delivery_updated_at = now
                    session.add(row)
            return rows

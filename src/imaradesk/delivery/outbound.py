"""Messages a person (or the bot, after a person) sends outside a webhook's reply.

They go out through the adapter registered for the customer's channel (``registry``): a push
channel sends through its provider, a pull channel keeps the message for the customer's next
poll. Every one is stored first, so that a failed send is shown (and can be retried), never
lost. Where a channel has a customer-service window (WhatsApp's 24 hours), free text is refused
once it has closed: only approved templates may go out.

Errors::

    OutboundError           the message cannot be sent as asked
    ├── OptedOut            the customer withdrew consent with STOP
    └── WindowClosed        the service window has closed: templates only
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Protocol

from imaradesk.channels.base import (
    AWAITING_POLL,
    UNCERTAIN,
    DeliveryMode,
    ReadReceipts,
    Recipient,
    SendFailed,
    TemplateMessage,
    split_text,
    statuses_superseded_by,
)
from imaradesk.channels.messages import OutboundMessage, ReplyKind, ReplyOption
from imaradesk.delivery.registry import ChannelRegistry, Registration, UnknownChannel
from imaradesk.delivery.retry import Retrier
from imaradesk.delivery.window import window_open
from imaradesk.policies.retention import retain_until
from imaradesk.runtime.clock import Clock
from imaradesk.runtime.metrics import SEND_FAILURES
from imaradesk.storage.delivery_repository import DeliveryRepository, PollOutbox
from imaradesk.storage.models import Conversation, Message, MessageTemplate, Organization
from imaradesk.storage.templates_repository import TemplatesRepository

log = logging.getLogger(__name__)
# The old name of the status a pull channel's message has until it is fetched.
WEBCHAT_PENDING = AWAITING_POLL
_STORED = "queued"  # stored, not sent yet
# How long a sender may hold a reply it claimed before another takes it over (a dead worker):
# longer than every retry of one send.
SEND_CLAIM = timedelta(minutes=2)
# Channels whose replies never go out in the webhook's own answer: a reply of theirs with no
# provider id was not sent (Twilio's TwiML replies have none either, and were).
_RESENDABLE_CHANNELS = ("whatsapp_cloud",)


class OutboundError(Exception):
    pass


class OptedOut(OutboundError):
    """The customer withdrew consent with STOP."""


class WindowClosed(OutboundError):
    """The channel's service window has closed (24 hours on WhatsApp): templates only."""


@dataclass(frozen=True)
class SendResult:
    messages: tuple[Message, ...]
    failed: int


class OrganizationLookup(Protocol):
    def get(self, org_id: int) -> Organization | None: ...


class OutboundService:
    def __init__(
        self,
        *,
        repository: DeliveryRepository,
        templates: TemplatesRepository,
        outbox: PollOutbox,
        channels: ChannelRegistry,
        clock: Clock,
        retrier: Retrier | None = None,
    ) -> None:
        self._repository = repository
        self._templates = templates
        self._outbox = outbox
        self._channels = channels
        self._clock = clock
        self._retrier = retrier or Retrier()

    # -- the window ----------------------------------------------------------------------------

    def last_customer_message_at(self, org: Organization, conversation_id: int) -> datetime | None:
        return self._repository.last_inbound_at(org_id=_id(org), conversation_id=conversation_id)

    def window_open(self, org: Organization, conversation: Conversation) -> bool:
        try:
            adapter = self._channels.for_channel(conversation.channel).adapter
        except UnknownChannel:
            return True  # nothing can be sent there anyway; sending says why
        window = adapter.capabilities.service_window(conversation.channel)
        if window is None:
            return True
        return window_open(
            last_customer_message_at=self.last_customer_message_at(org, _id(conversation)),
            now=self._clock.now(),
            window=window,
        )

    def templates(
        self, org: Organization, conversation: Conversation | None = None
    ) -> list[MessageTemplate]:
        """The organization's approved templates; for a conversation, those its channel's
        provider can send (a Twilio Content SID means nothing to Meta, and back)."""
        templates = self._templates.templates(org_id=_id(org))
        if conversation is None:
            return templates
        try:
            provider = self._registration(conversation).adapter.name
        except OutboundError:
            return []
        return [t for t in templates if t.provider == provider]

    # -- sending -------------------------------------------------------------------------------

    def send_text(
        self,
        org: Organization,
        conversation: Conversation,
        text: str,
        *,
        agent_id: int | None,
        kind: str = "agent",
        options: tuple[ReplyOption, ...] = (),
    ) -> SendResult:
        """Send free text, split under the channel's limit; ``options`` go with its last part.

        Raises:
            OptedOut: the customer said STOP.
            WindowClosed: the channel's service window has closed; send a template instead.
        """
        if not text.strip():
            raise OutboundError("the message is empty")
        adapter = self._registration(conversation).adapter
        self._check_not_opted_out(org, conversation)
        if not self.window_open(org, conversation):
            window = adapter.capabilities.service_window(conversation.channel) or timedelta(0)
            raise WindowClosed(
                f"more than {window.total_seconds() / 3600:g} hours since the customer's last "
                "message: use an approved template"
            )
        chunks = split_text(text, adapter.max_text_length)
        rows = [
            self._store(
                org,
                conversation,
                chunk,
                agent_id=agent_id,
                kind=kind,
                options=options if n == len(chunks) else (),
            )
            for n, chunk in enumerate(chunks, 1)
        ]
        return self._deliver(org, conversation, rows)

    def acknowledge(self, org: Organization, *, channel: str, provider_message_id: str) -> None:
        """Tell the customer their message was read and a reply is coming, where the channel
        can (ReadReceipts); a refusal only costs the ticks, never the turn."""
        try:
            registration = self._channels.for_channel(channel)
        except UnknownChannel:
            return
        adapter, account = registration.adapter, registration.account_of(org)
        if not isinstance(adapter, ReadReceipts) or account is None:
            return
        try:
            adapter.mark_read(account, provider_message_id)
        except SendFailed as e:
            log.info("read receipt refused", extra={"org_id": org.id, "code": e.code})

    def send_replies(self, org: Organization, inbound_message_id: int) -> SendResult:
        """Deliver the bot's stored replies to one inbound message (a turn run by a worker)."""
        unsent = self._repository.unsent_replies(
            org_id=_id(org),
            inbound_message_id=inbound_message_id,
            now=self._clock.now(),
            claim_for=SEND_CLAIM,
        )
        if unsent is None or not unsent.replies:
            return SendResult((), 0)
        conversation = unsent.conversation
        limit = self._registration(conversation).adapter.max_text_length
        rows = [
            part
            for row in unsent.replies
            for part in self._split_stored(org, conversation, row, limit)
        ]
        return self._deliver(org, conversation, rows)

    def replies_in_flight(self, org: Organization, inbound_message_id: int) -> bool:
        """Whether another sender holds a reply to this message that has not gone out (it may
        have died: its claim lapses after SEND_CLAIM)."""
        return self._repository.replies_in_flight(
            org_id=_id(org), inbound_message_id=inbound_message_id
        )

    def resend_unsent(self, organizations: OrganizationLookup, *, within: timedelta) -> int:
        """Send the bot's replies that a stopped process stored but never sent (stored over a
        minute ago, within ``within``). Returns how many turns were resent."""
        now = self._clock.now()
        turns = self._repository.unsent_reply_turns(
            channels=_RESENDABLE_CHANNELS, since=now - within, before=now - timedelta(minutes=1)
        )
        resent = 0
        for org_id, inbound_id in turns:
            org = organizations.get(org_id)
            if org is None or org.data_destroyed_at is not None:
                continue
            if self.send_replies(org, inbound_id).messages:
                resent += 1
        if resent:
            log.info("resent replies a stopped process left unsent", extra={"turns": resent})
        return resent

    def send_unrecorded(
        self,
        org: Organization,
        *,
        channel: str,
        address: str,
        replies: Sequence[OutboundMessage],
    ) -> int:
        """Send the replies of a turn that erased its customer: nothing of theirs may be
        stored again, so these are sent (with retries) and kept nowhere. Returns how many
        could not be sent."""
        registration = self._channels.for_channel(channel)
        if registration.adapter.capabilities.delivery is not DeliveryMode.PUSH:
            return 0  # a pull channel read them in the webhook's answer already
        to = Recipient(org_id=_id(org), org_slug=org.slug, channel=channel, address=address)
        account = registration.account_of(org)
        failed = 0
        for reply in replies:
            for part in split_text(reply.text, registration.adapter.max_text_length):
                message = OutboundMessage(part, reply.kind)
                try:
                    self._retrier.call(
                        partial(registration.adapter.send, message, to=to, account=account)
                    )
                except SendFailed as e:
                    failed += 1
                    log.warning(
                        "an erased customer's confirmation failed",
                        extra={"org_id": org.id, "code": e.code},
                    )
        return failed

    def send_template(
        self,
        org: Organization,
        conversation: Conversation,
        template_id: int,
        *,
        agent_id: int | None,
    ) -> SendResult:
        template = self._templates.template(org_id=_id(org), template_id=template_id)
        if template is None:
            raise OutboundError(f"no template #{template_id}")
        if template.provider != self._registration(conversation).adapter.name:
            raise OutboundError(
                f"template {template.name!r} is {template.provider}'s: this conversation's "
                "channel cannot send it"
            )
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
        row = self._repository.outbound_message(
            org_id=_id(org), conversation_id=_id(conversation), message_id=message_id
        )
        if row is None:
            raise OutboundError(f"no message #{message_id} in this conversation")
        if row.delivery_status != "failed":
            raise OutboundError("only a failed message can be retried")
        self._check_not_opted_out(org, conversation)
        return self._deliver(org, conversation, [row])

    # -- pull channels' polls ------------------------------------------------------------------

    def poll_since(
        self, org: Organization, *, channel: str, address: str, after_id: int
    ) -> list[Message]:
        """What was sent to this customer (outside the bot's replies) since ``after_id``."""
        return self._outbox.collect_since(
            org_id=_id(org),
            channel=channel,
            address=address,
            after_id=after_id,
            now=self._clock.now(),
        )

    def history(
        self, org: Organization, *, channel: str, address: str, limit: int = 100
    ) -> list[Message]:
        """The customer's last ``limit`` messages both ways, oldest first (a reloaded chat)."""
        return self._outbox.history(
            org_id=_id(org), channel=channel, address=address, limit=limit, now=self._clock.now()
        )

    def poll_waiting(self, org: Organization, *, channel: str, address: str) -> list[Message]:
        """What waits for this customer and was never fetched; now delivered."""
        return self._outbox.collect_waiting(
            org_id=_id(org), channel=channel, address=address, now=self._clock.now()
        )

    # -- steps ---------------------------------------------------------------------------------

    def can_answer_later(self, org: Organization, channel: str) -> bool:
        """Whether a reply on ``channel`` can go out after its webhook has been answered:
        pushed through the organization's provider account, or waiting for the client's poll."""
        try:
            registration = self._channels.for_channel(channel)
        except UnknownChannel:
            return False
        if registration.adapter.capabilities.delivery is DeliveryMode.POLL:
            return True
        return registration.account_of(org) is not None

    def _registration(self, conversation: Conversation) -> Registration:
        try:
            return self._channels.for_channel(conversation.channel)
        except UnknownChannel as e:
            raise OutboundError(str(e)) from e

    def _check_not_opted_out(self, org: Organization, conversation: Conversation) -> None:
        contact = self._repository.contact(org_id=_id(org), contact_id=conversation.contact_id)
        if contact is not None and contact.opted_out:
            raise OptedOut("the customer opted out (STOP): nothing is sent until they write START")

    def _split_stored(
        self, org: Organization, conversation: Conversation, row: Message, limit: int
    ) -> list[Message]:
        """A stored reply longer than the channel takes becomes one row per part, in order."""
        chunks = split_text(row.body, limit)
        if len(chunks) <= 1:
            return [row]
        first = self._repository.shorten(org_id=_id(org), message_id=_id(row), body=chunks[0])
        rest = [
            self._store(org, conversation, chunk, agent_id=None, kind=row.kind)
            for chunk in chunks[1:]
        ]
        return [first, *rest]

    def _store(
        self,
        org: Organization,
        conversation: Conversation,
        text: str,
        *,
        agent_id: int | None,
        kind: str,
        template_sid: str | None = None,
        options: tuple[ReplyOption, ...] = (),
    ) -> Message:
        now = self._clock.now()
        return self._repository.store_outbound(
            org_id=_id(org),
            conversation_id=_id(conversation),
            body=text,
            kind=kind,
            options=[{"id": o.id, "title": o.title} for o in options],
            agent_id=agent_id,
            template_sid=template_sid,
            delivery_status=_STORED,
            now=now,
            retain_until=retain_until(now, org.retention_days),
        )

    def _deliver(
        self, org: Organization, conversation: Conversation, rows: list[Message]
    ) -> SendResult:
        registration = self._registration(conversation)
        contact = self._repository.contact(org_id=_id(org), contact_id=conversation.contact_id)
        if contact is None:
            raise OutboundError("the conversation's contact no longer exists")
        to = Recipient(
            org_id=_id(org),
            org_slug=org.slug,
            channel=conversation.channel,
            address=contact.address,
        )
        account = registration.account_of(org)
        failed = 0
        delivered: list[Message] = []
        for row in rows:
            send = partial(registration.adapter.send, _outbound(row), to=to, account=account)
            try:
                receipt = self._retrier.call(send)
            except SendFailed as e:
                failed += 1
                SEND_FAILURES.labels(channel=conversation.channel, code=str(e.code)).inc()
                log.warning("outbound message failed", extra={"org_id": org.id, "code": e.code})
                if e.code == UNCERTAIN:
                    # Left claimed ("sending"): its status report, if the provider took it,
                    # records it as sent; else it is sent again once the claim lapses.
                    continue
                delivered.append(self._record(org, row, "failed", error_code=e.code))
                continue
            delivered.append(
                self._record(org, row, receipt.status, provider_id=receipt.provider_message_id)
            )
        return SendResult(tuple(delivered), failed)

    def _record(
        self,
        org: Organization,
        row: Message,
        status: str,
        *,
        provider_id: str | None = None,
        error_code: str | None = None,
    ) -> Message:
        # A failure always shows; a success never overwrites a later status that a fast
        # status report already recorded (but does replace an earlier failure).
        replaces = None if status == "failed" else statuses_superseded_by(status) | {"failed"}
        return self._repository.record_attempt(
            org_id=_id(org),
            message_id=_id(row),
            status=status,
            replaces=replaces,
            provider_message_id=provider_id,
            error_code=error_code,
            now=self._clock.now(),
        )


def _outbound(row: Message) -> OutboundMessage:
    """The stored row as the channel-neutral message adapters send."""
    try:
        kind = ReplyKind(row.kind)
    except ValueError:
        kind = ReplyKind.HANDOFF  # a person's message ("agent", "template", "csat_question")
    if row.template_sid:
        return TemplateMessage(
            text=row.body, kind=kind, message_id=row.id, template_sid=row.template_sid
        )
    options = tuple(ReplyOption(str(o["id"]), str(o["title"])) for o in row.options or ())
    return OutboundMessage(text=row.body, kind=kind, message_id=row.id, options=options)


def _id(row: Organization | Conversation | Message) -> int:
    if row.id is None:
        raise ValueError(f"{type(row).__name__} is not stored yet")
    return row.id

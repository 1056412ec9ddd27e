"""The delivery package on a real database with fake adapters: it pushes or holds for a poll by
the adapter's declared capability (never by name), retries around one send, enforces a channel's
service window, and stores every message before it goes out."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import select

from imaradesk.channels.base import (
    AWAITING_POLL,
    ChannelCapabilities,
    DeliveryMode,
    PollMailbox,
    ProviderAccount,
    Recipient,
    SendFailed,
    SendReceipt,
    TemplateMessage,
    hold_for_poll,
)
from imaradesk.channels.messages import OutboundMessage
from imaradesk.delivery.outbound import OutboundError, OutboundService, WindowClosed
from imaradesk.delivery.registry import ChannelRegistry
from imaradesk.delivery.retry import Retrier
from imaradesk.runtime.clock import FrozenClock
from imaradesk.storage.db import Database
from imaradesk.storage.delivery_repository import DeliveryRepository, PollOutbox
from imaradesk.storage.models import (
    Conversation,
    Direction,
    LawfulBasis,
    Message,
    MessageTemplate,
    Organization,
)
from imaradesk.storage.repositories import OrgData
from imaradesk.storage.templates_repository import TemplatesRepository
from tests.helpers import seed_org

ACCOUNT = ProviderAccount(account_id="acct", secret="s3cret", sender="+100")


@dataclass
class Sent:
    message: OutboundMessage
    to: Recipient
    account: ProviderAccount | None


@dataclass
class FakePush:
    """A provider we push to; ``failures`` are raised by the next sends, in turn."""

    serves: tuple[str, ...] = ("whatsapp",)
    window: timedelta | None = None
    max_text_length: int = 1000
    name: str = "fakepush"
    failures: list[SendFailed] = field(default_factory=list)
    sent: list[Sent] = field(default_factory=list)

    @property
    def capabilities(self) -> ChannelCapabilities:
        windows = tuple((c, self.window) for c in self.serves) if self.window else ()
        return ChannelCapabilities(DeliveryMode.PUSH, self.serves, windows)

    def parse(self, payload: Any, *, org_slug: str, received_at: Any) -> list[Any]:
        return []

    def render(self, replies: Any, **_: Any) -> str:
        return ""

    def send(
        self, message: OutboundMessage, *, to: Recipient, account: ProviderAccount | None = None
    ) -> SendReceipt:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append(Sent(message, to, account))
        return SendReceipt(provider_message_id=f"P{len(self.sent)}", status="sent")


@dataclass
class FakePoll:
    mailbox: PollMailbox
    serves: tuple[str, ...] = ("webchat",)
    max_text_length: int = 4096
    name: str = "fakepoll"
    sent: list[Sent] = field(default_factory=list)

    @property
    def capabilities(self) -> ChannelCapabilities:
        return ChannelCapabilities(DeliveryMode.POLL, self.serves)

    def parse(self, payload: Any, *, org_slug: str, received_at: Any) -> list[Any]:
        return []

    def render(self, replies: Any, **_: Any) -> str:
        return ""

    def send(
        self, message: OutboundMessage, *, to: Recipient, account: ProviderAccount | None = None
    ) -> SendReceipt:
        self.sent.append(Sent(message, to, account))
        return hold_for_poll(self.mailbox, message, to=to)


@dataclass
class World:
    database: Database
    clock: FrozenClock
    org: Organization
    slept: list[float]

    def outbound(
        self, *adapters: Any, account: ProviderAccount | None = ACCOUNT
    ) -> OutboundService:
        registry = ChannelRegistry()
        for adapter in adapters:
            registry.register(adapter, account_of=lambda _org: account)
        return OutboundService(
            repository=DeliveryRepository(self.database),
            templates=TemplatesRepository(self.database),
            outbox=PollOutbox(self.database),
            channels=registry,
            clock=self.clock,
            retrier=Retrier(sleep=self.slept.append),
        )

    def conversation(self, channel: str, address: str = "+254711000555") -> Conversation:
        """A customer who wrote once, just now."""
        assert self.org.id is not None
        now = self.clock.now()
        with self.database.write() as session:
            data = OrgData(session, self.org.id)
            contact = data.add_contact(
                channel=channel, address=address, display_name=None, now=now, retain_until=now
            )
            assert contact.id is not None
            conversation = data.add_conversation(
                contact_id=contact.id, channel=channel, now=now, retain_until=now
            )
            assert conversation.id is not None
            session.add(self._inbound(conversation, "hello"))
            return conversation

    def bot_reply(self, conversation: Conversation, text: str) -> int:
        """A stored inbound message and the bot's unsent reply to it; returns the inbound id."""
        with self.database.write() as session:
            inbound = self._inbound(conversation, "question")
            session.add(inbound)
            session.flush()
            reply = self._row(conversation, Direction.OUTBOUND, text, kind="answer")
            reply.reply_to_id = inbound.id
            session.add(reply)
            assert inbound.id is not None
            return inbound.id

    def rows(self, kind: str | None = None) -> list[Message]:
        with self.database.read() as session:
            rows = session.exec(
                select(Message).where(Message.direction == Direction.OUTBOUND)
            ).all()
        return sorted((r for r in rows if kind is None or r.kind == kind), key=lambda r: r.id or 0)

    def _inbound(self, conversation: Conversation, text: str) -> Message:
        return self._row(conversation, Direction.INBOUND, text, kind="text")

    def _row(
        self, conversation: Conversation, direction: Direction, text: str, *, kind: str
    ) -> Message:
        assert self.org.id is not None
        return Message(
            org_id=self.org.id,
            conversation_id=conversation.id,
            contact_id=conversation.contact_id,
            direction=direction,
            channel=conversation.channel,
            kind=kind,
            body=text,
            lawful_basis=LawfulBasis.CONSENT,
            created_at=self.clock.now(),
            retain_until=self.clock.now(),
        )


@pytest.fixture
def world(make_services, sqlite_database: Database, clock: FrozenClock) -> World:
    services = make_services(sqlite_database)
    return World(sqlite_database, clock, seed_org(services, "acme", faq_csv=None), [])


def test_a_push_channel_sends_through_its_provider_with_the_organizations_account(world) -> None:
    push = FakePush()
    conversation = world.conversation("whatsapp")
    result = world.outbound(push).send_text(
        world.org, conversation, "Hi, Amina here.", agent_id=None
    )
    [sent] = push.sent
    assert sent.message.text == "Hi, Amina here." and sent.account == ACCOUNT
    assert sent.to == Recipient(world.org.id, "acme", "whatsapp", "+254711000555")
    [row] = world.rows()
    assert sent.message.message_id == row.id, "stored before it is sent"
    assert (row.delivery_status, row.provider_message_id, row.send_attempts) == ("sent", "P1", 1)
    assert result.failed == 0 and [m.id for m in result.messages] == [row.id]


def test_a_poll_channel_holds_the_message_for_the_next_poll_once(world) -> None:
    poll = FakePoll(PollOutbox(world.database))
    conversation = world.conversation("webchat", address="visitor-1")
    outbound = world.outbound(poll)
    outbound.send_text(world.org, conversation, "Hi, Amina here.", agent_id=None)
    [row] = world.rows()
    assert row.delivery_status == AWAITING_POLL and row.provider_message_id is None
    [fetched] = outbound.poll_since(world.org, channel="webchat", address="visitor-1", after_id=0)
    assert fetched.body == "Hi, Amina here." and world.rows()[0].delivery_status == "delivered"
    after = outbound.poll_since(world.org, channel="webchat", address="visitor-1", after_id=row.id)
    assert after == []
    assert outbound.poll_waiting(world.org, channel="webchat", address="visitor-1") == []
    other = outbound.poll_since(world.org, channel="webchat", address="visitor-2", after_id=0)
    assert other == [], "another visitor never gets it"


def test_the_declared_capability_decides_not_the_channel_name(world) -> None:
    """A push adapter registered for "webchat" pushes: nothing waits for a poll."""
    push = FakePush(serves=("webchat",))
    conversation = world.conversation("webchat", address="visitor-3")
    world.outbound(push).send_text(world.org, conversation, "Pushed.", agent_id=None)
    assert [s.message.text for s in push.sent] == ["Pushed."]
    assert world.rows()[0].delivery_status == "sent"


def test_text_is_split_under_the_adapters_limit(world) -> None:
    push = FakePush(max_text_length=40)
    conversation = world.conversation("whatsapp")
    text = "Dial *483*1# to see your balance. Then choose a statement. Keep the PIN secret."
    world.outbound(push).send_text(world.org, conversation, text, agent_id=None)
    assert len(push.sent) >= 2 and all(len(s.message.text) <= 40 for s in push.sent)
    assert len(world.rows()) == len(push.sent), "one stored row per part"


def test_a_worker_turns_long_stored_reply_becomes_parts_in_order(world) -> None:
    push = FakePush(max_text_length=40)
    conversation = world.conversation("whatsapp")
    inbound_id = world.bot_reply(conversation, "First sentence here. " * 5)
    result = world.outbound(push).send_replies(world.org, inbound_id)
    assert result.failed == 0 and len(push.sent) == len(world.rows()) >= 3
    assert "".join(s.message.text for s in push.sent).replace(" ", "") == (
        "First sentence here. " * 5
    ).replace(" ", "")
    again = world.outbound(push).send_replies(world.org, inbound_id)
    assert again.messages == (), "sent replies are not sent twice"


def test_a_transient_failure_is_retried_with_backoff_around_the_one_send(world) -> None:
    push = FakePush(failures=[SendFailed("503", code="20500"), SendFailed("503", code="20500")])
    conversation = world.conversation("whatsapp")
    result = world.outbound(push).send_text(world.org, conversation, "Hello", agent_id=None)
    assert result.failed == 0 and len(push.sent) == 1
    assert world.slept == pytest.approx([0.2, 0.6]), "the injected sleep, not a real one"
    [row] = world.rows()
    assert row.delivery_status == "sent" and row.send_attempts == 1


def test_a_permanent_failure_is_stored_and_a_retry_sends_it(world) -> None:
    push = FakePush(failures=[SendFailed("bad number", code="21211", retryable=False)])
    conversation = world.conversation("whatsapp")
    outbound = world.outbound(push)
    result = outbound.send_text(world.org, conversation, "Hello", agent_id=None)
    [row] = world.rows()
    assert result.failed == 1 and world.slept == []
    assert (row.delivery_status, row.delivery_error_code) == ("failed", "21211")
    outbound.retry(world.org, conversation, row.id)
    [row] = world.rows()
    assert (row.delivery_status, row.send_attempts, row.delivery_error_code) == ("sent", 2, None)
    with pytest.raises(OutboundError, match="only a failed message"):
        outbound.retry(world.org, conversation, row.id)


def test_a_push_channel_without_an_account_fails_without_retrying(world) -> None:
    from imaradesk.channels.twilio import TwilioChannel

    conversation = world.conversation("whatsapp")
    result = world.outbound(TwilioChannel(), account=None).send_text(
        world.org, conversation, "Hello", agent_id=None
    )
    [row] = world.rows()
    assert result.failed == 1 and row.delivery_error_code == "config" and world.slept == []


def test_a_closed_service_window_allows_only_templates(world) -> None:
    push = FakePush(window=timedelta(hours=24))
    conversation = world.conversation("whatsapp")
    outbound = world.outbound(push)
    assert outbound.window_open(world.org, conversation)
    world.clock.advance(timedelta(hours=25))
    assert not outbound.window_open(world.org, conversation)
    with pytest.raises(WindowClosed, match="more than 24 hours"):
        outbound.send_text(world.org, conversation, "Still there?", agent_id=None)
    with world.database.write() as session:
        template = MessageTemplate(
            org_id=world.org.id,
            name="Follow-up",
            provider=push.name,
            content_sid="HX1",
            body="News about your case.",
        )
        session.add(template)
        session.flush()
        template_id = template.id
    outbound.send_template(world.org, conversation, template_id, agent_id=None)
    [sent] = push.sent
    assert isinstance(sent.message, TemplateMessage) and sent.message.template_sid == "HX1"
    assert sent.message.text == "News about your case."


def test_a_channel_without_a_window_is_always_open(world) -> None:
    push = FakePush(serves=("sms",))
    conversation = world.conversation("sms")
    world.clock.advance(timedelta(days=30))
    outbound = world.outbound(push)
    assert outbound.window_open(world.org, conversation)
    outbound.send_text(world.org, conversation, "Hello", agent_id=None)
    assert len(push.sent) == 1


def test_a_channel_nobody_registered_is_refused(world) -> None:
    conversation = world.conversation("carrier-pigeon")
    with pytest.raises(OutboundError, match="carrier-pigeon"):
        world.outbound(FakePush()).send_text(world.org, conversation, "Hello", agent_id=None)
    assert world.rows() == [], "nothing is stored that cannot be sent"


def test_a_conversation_channel_is_registered_once() -> None:
    registry = ChannelRegistry()
    registry.register(FakePush())
    with pytest.raises(ValueError):
        registry.register(FakePush())


def test_holding_never_takes_back_a_delivery(world) -> None:
    """A poll can fetch a message between its storing and its holding: it stays delivered."""
    outbox = PollOutbox(world.database)
    conversation = world.conversation("webchat", address="visitor-4")
    outbound = world.outbound(FakePoll(outbox))
    outbound.send_text(world.org, conversation, "Hi", agent_id=None)
    [row] = world.rows()
    outbound.poll_waiting(world.org, channel="webchat", address="visitor-4")
    outbox.hold(org_id=world.org.id, message_id=row.id)
    assert world.rows()[0].delivery_status == "delivered"


def test_status_reports_move_forward_only_and_unknown_ones_are_ignored(world) -> None:
    from imaradesk.channels.base import StatusReport
    from imaradesk.delivery.status import DeliveryTracker

    conversation = world.conversation("whatsapp")
    world.outbound(FakePush()).send_text(world.org, conversation, "Hi", agent_id=None)
    tracker = DeliveryTracker(DeliveryRepository(world.database), world.clock)
    [row] = world.rows()
    delivered = tracker.record(
        world.org.id, "whatsapp", StatusReport("P1", "delivered", None, None)
    )
    late = tracker.record(world.org.id, "whatsapp", StatusReport("P1", "sent", None, row.id))
    assert delivered.applied and not late.applied and late.status == "delivered"
    unknown = tracker.record(world.org.id, "whatsapp", StatusReport("P9", "read", None, None))
    assert not unknown.found
    elsewhere = tracker.record(world.org.id, "sms", StatusReport("P1", "read", None, None))
    assert not elsewhere.found, "a report is matched on its channel too"

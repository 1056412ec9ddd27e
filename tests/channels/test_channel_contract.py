"""The Channel Protocol's contract, run against every adapter: what delivery may rely on.

Push adapters send through their provider (Twilio: a local server speaking its Messages API);
pull adapters hold the message in a mailbox for the customer's next poll.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from imaradesk.channels.base import (
    AWAITING_POLL,
    KNOWN_STATUSES,
    Channel,
    DeliveryMode,
    MalformedRequest,
    ProviderAccount,
    Recipient,
    SendFailed,
    TemplateMessage,
)
from imaradesk.channels.messages import OutboundMessage, ReplyKind
from imaradesk.channels.rasa_rest import RasaRestChannel
from imaradesk.channels.twilio import TwilioChannel
from imaradesk.channels.twilio_sender import TwilioSender
from imaradesk.channels.webchat import WebChatChannel
from tests.fakes.twilio_api import FakeTwilioApi

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
ACCOUNT_SID = "AC" + "c" * 32
AUTH_TOKEN = "contract-token"
TEMPLATE_SID = "HX" + "d" * 32


@dataclass
class MemoryMailbox:
    held: list[tuple[int, int]] = field(default_factory=list)

    def hold(self, *, org_id: int, message_id: int) -> None:
        self.held.append((org_id, message_id))


@dataclass
class Case:
    """One adapter, ready to send, and a way to see what reached the customer."""

    channel: Channel
    to: Recipient
    account: ProviderAccount | None
    delivered: Callable[[], list[str]]
    fail_next: Callable[[int], None] | None = None  # push adapters: make the provider fail


def _twilio(fake: FakeTwilioApi) -> Case:
    channel = TwilioChannel(
        sender=TwilioSender(api_base_url=fake.url), public_base_url="https://desk.example"
    )

    def fail_next(count: int) -> None:
        fake.fail_next = count

    return Case(
        channel,
        Recipient(org_id=1, org_slug="acme", channel="whatsapp", address="+254711000333"),
        ProviderAccount(account_id=ACCOUNT_SID, secret=AUTH_TOKEN, sender="whatsapp:+14155238886"),
        lambda: [m.get("Body") or m.get("ContentSid", "") for m in fake.received],
        fail_next,
    )


def _pull(channel_type: type[WebChatChannel] | type[RasaRestChannel]) -> Case:
    mailbox = MemoryMailbox()
    channel = channel_type(mailbox=mailbox)
    return Case(
        channel,
        Recipient(org_id=1, org_slug="acme", channel=channel.name, address="visitor-7"),
        None,
        lambda: [str(message_id) for _, message_id in mailbox.held],
    )


@pytest.fixture(params=["twilio", "webchat", "rasa"])
def case(request: pytest.FixtureRequest) -> Iterator[Case]:
    if request.param == "twilio":
        fake = FakeTwilioApi(ACCOUNT_SID, AUTH_TOKEN).start()
        yield _twilio(fake)
        fake.stop()
    elif request.param == "webchat":
        yield _pull(WebChatChannel)
    else:
        yield _pull(RasaRestChannel)


def _message(text: str = "Hello from Amina", message_id: int = 41) -> OutboundMessage:
    return OutboundMessage(text, ReplyKind.HANDOFF, message_id=message_id)


def test_it_declares_what_delivery_chooses_by(case: Case) -> None:
    capabilities = case.channel.capabilities
    assert isinstance(capabilities.delivery, DeliveryMode)
    assert capabilities.serves and case.to.channel in capabilities.serves
    assert case.channel.max_text_length > 0 and case.channel.name
    for channel, window in capabilities.service_windows:
        assert channel in capabilities.serves and window.total_seconds() > 0


def test_parse_refuses_an_empty_payload(case: Case) -> None:
    with pytest.raises(MalformedRequest):
        case.channel.parse({}, org_slug="acme", received_at=NOW)


def test_render_of_no_replies_is_an_empty_answer(case: Case) -> None:
    rendered = case.channel.render([], recipient_id=case.to.address)
    assert "Message" not in str(rendered) and "Amina" not in str(rendered)


def test_a_message_of_the_longest_allowed_text_goes_out_once(case: Case) -> None:
    text = "x" * case.channel.max_text_length
    receipt = case.channel.send(_message(text), to=case.to, account=case.account)
    assert receipt.status in KNOWN_STATUSES
    assert len(case.delivered()) == 1
    if case.channel.capabilities.delivery is DeliveryMode.PUSH:
        assert receipt.provider_message_id and case.delivered() == [text]
    else:
        assert receipt.provider_message_id is None and receipt.status == AWAITING_POLL
        assert case.delivered() == ["41"], "the stored message waits in the mailbox"


def test_a_template_goes_out_as_the_template_or_its_text(case: Case) -> None:
    template = TemplateMessage(
        "Hi, we have news about your request.",
        ReplyKind.HANDOFF,
        message_id=42,
        template_sid=TEMPLATE_SID,
    )
    receipt = case.channel.send(template, to=case.to, account=case.account)
    assert receipt.status in KNOWN_STATUSES
    if case.channel.capabilities.delivery is DeliveryMode.PUSH:
        assert case.delivered() == [TEMPLATE_SID]
    else:
        assert case.delivered() == ["42"]


def test_a_push_channel_without_an_account_fails_for_good(case: Case) -> None:
    if case.channel.capabilities.delivery is not DeliveryMode.PUSH:
        pytest.skip("pull channels send with no provider account")
    with pytest.raises(SendFailed) as failed:
        case.channel.send(_message(), to=case.to, account=None)
    assert failed.value.retryable is False and case.delivered() == []


def test_a_provider_failure_is_one_retryable_attempt(case: Case) -> None:
    """Adapters try once: retries are delivery's, so they are never multiplied."""
    if case.fail_next is None:
        pytest.skip("no provider to fail")
    case.fail_next(2)
    with pytest.raises(SendFailed) as failed:
        case.channel.send(_message(), to=case.to, account=case.account)
    assert failed.value.retryable is True
    case.fail_next(0)
    case.channel.send(_message(), to=case.to, account=case.account)
    assert case.delivered() == ["Hello from Amina"]


def test_a_message_longer_than_the_limit_is_refused_or_held_whole(case: Case) -> None:
    """Delivery splits before sending; a push adapter refuses what its provider would."""
    text = "y" * (case.channel.max_text_length + 1)
    if case.channel.capabilities.delivery is DeliveryMode.PUSH:
        with pytest.raises(SendFailed) as failed:
            case.channel.send(_message(text), to=case.to, account=case.account)
        assert failed.value.retryable is False and case.delivered() == []
    else:
        case.channel.send(_message(text), to=case.to, account=case.account)
        assert case.delivered() == ["41"]


def test_a_pull_channel_sends_only_stored_messages(case: Case) -> None:
    if case.channel.capabilities.delivery is not DeliveryMode.POLL:
        pytest.skip("push channels send any message")
    with pytest.raises(SendFailed):
        case.channel.send(
            OutboundMessage("not stored", ReplyKind.HANDOFF), to=case.to, account=None
        )
    assert case.delivered() == []

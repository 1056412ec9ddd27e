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
from imaradesk.channels.meta import MetaCloudChannel
from imaradesk.channels.rasa_rest import RasaRestChannel
from imaradesk.channels.twilio import TwilioChannel
from imaradesk.channels.twilio_sender import TwilioSender
from imaradesk.channels.webchat import WebChatChannel
from tests.fakes.graph_api import FakeGraphApi
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


def _meta(fake: FakeGraphApi) -> Case:
    def fail_next(count: int) -> None:
        fake.errors = [(500, 1)] * count

    return Case(
        MetaCloudChannel(graph_base_url=fake.url),
        Recipient(org_id=1, org_slug="acme", channel="whatsapp_cloud", address="254711000333"),
        ProviderAccount(account_id=fake.phone_number_id, secret=fake.access_token, sender="-"),
        lambda: [
            m["template"]["name"] if m["type"] == "template" else m["text"]["body"]
            for m in fake.received
        ],
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


PUSH = ["twilio", "meta"]
PULL = ["webchat", "rasa"]


def _case(name: str) -> Iterator[Case]:
    if name == "twilio":
        fake = FakeTwilioApi(ACCOUNT_SID, AUTH_TOKEN).start()
        yield _twilio(fake)
        fake.stop()
    elif name == "meta":
        graph = FakeGraphApi("106540352242922", "contract-access-token").start()
        yield _meta(graph)
        graph.stop()
    elif name == "webchat":
        yield _pull(WebChatChannel)
    else:
        yield _pull(RasaRestChannel)


@pytest.fixture(params=PUSH + PULL)
def case(request: pytest.FixtureRequest) -> Iterator[Case]:
    yield from _case(request.param)


@pytest.fixture(params=PUSH)
def push_case(request: pytest.FixtureRequest) -> Iterator[Case]:
    yield from _case(request.param)


@pytest.fixture(params=PULL)
def pull_case(request: pytest.FixtureRequest) -> Iterator[Case]:
    yield from _case(request.param)


def test_every_adapter_is_in_the_contract_suite() -> None:
    """A new adapter module under channels/ must be added to PUSH or PULL above."""
    import pkgutil

    import imaradesk.channels as package

    adapters = {m.name for m in pkgutil.iter_modules(package.__path__)} - {
        "base",
        "messages",
        "twilio_sender",
        "visitor_identity",  # who a pull channel's visitor is, not an adapter
    }
    assert adapters == {"twilio", "meta", "webchat", "rasa_rest"}, adapters


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


# -- push adapters: through the provider, once per call -------------------------------------------


def test_a_push_adapter_declares_push_and_returns_the_providers_id(push_case: Case) -> None:
    assert push_case.channel.capabilities.delivery is DeliveryMode.PUSH
    receipt = push_case.channel.send(_message(), to=push_case.to, account=push_case.account)
    assert receipt.provider_message_id and push_case.delivered() == ["Hello from Amina"]


def test_a_push_adapter_sends_a_template_as_the_template(push_case: Case) -> None:
    push_case.channel.send(_template(), to=push_case.to, account=push_case.account)
    assert push_case.delivered() == [TEMPLATE_SID]


def test_a_push_adapter_without_an_account_fails_for_good(push_case: Case) -> None:
    with pytest.raises(SendFailed) as failed:
        push_case.channel.send(_message(), to=push_case.to, account=None)
    assert failed.value.retryable is False and push_case.delivered() == []


def test_a_provider_failure_is_one_retryable_attempt(push_case: Case) -> None:
    """Adapters try once: retries are delivery's, so they are never multiplied."""
    assert push_case.fail_next is not None
    push_case.fail_next(2)
    with pytest.raises(SendFailed) as failed:
        push_case.channel.send(_message(), to=push_case.to, account=push_case.account)
    assert failed.value.retryable is True
    push_case.fail_next(0)
    push_case.channel.send(_message(), to=push_case.to, account=push_case.account)
    assert push_case.delivered() == ["Hello from Amina"]


def test_a_push_adapter_refuses_more_than_its_limit(push_case: Case) -> None:
    """Delivery splits before sending; the adapter refuses what its provider would."""
    text = "y" * (push_case.channel.max_text_length + 1)
    with pytest.raises(SendFailed) as failed:
        push_case.channel.send(_message(text), to=push_case.to, account=push_case.account)
    assert failed.value.retryable is False and push_case.delivered() == []


# -- pull adapters: held in the mailbox for the next poll -------------------------------------------


def test_a_pull_adapter_holds_the_stored_message_for_the_next_poll(pull_case: Case) -> None:
    assert pull_case.channel.capabilities.delivery is DeliveryMode.POLL
    receipt = pull_case.channel.send(_message(), to=pull_case.to, account=None)
    assert receipt.provider_message_id is None and receipt.status == AWAITING_POLL
    assert pull_case.delivered() == ["41"]


def test_a_pull_adapter_holds_a_template_like_any_message(pull_case: Case) -> None:
    pull_case.channel.send(_template(), to=pull_case.to, account=None)
    assert pull_case.delivered() == ["42"]


def test_a_pull_adapter_holds_only_stored_messages(pull_case: Case) -> None:
    with pytest.raises(SendFailed) as failed:
        pull_case.channel.send(
            OutboundMessage("not stored", ReplyKind.HANDOFF), to=pull_case.to, account=None
        )
    assert failed.value.retryable is False and pull_case.delivered() == []


def test_a_pull_adapter_without_a_mailbox_fails_for_good(pull_case: Case) -> None:
    bare = type(pull_case.channel)()
    with pytest.raises(SendFailed) as failed:
        bare.send(_message(), to=pull_case.to, account=None)
    assert failed.value.retryable is False


def _template() -> TemplateMessage:
    return TemplateMessage(
        "Hi, we have news about your request.",
        ReplyKind.HANDOFF,
        message_id=42,
        template_sid=TEMPLATE_SID,
    )

"""What the Twilio adapter puts on the wire when it sends: addresses and the status callback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from imaradesk.channels.base import ProviderAccount, Recipient
from imaradesk.channels.messages import OutboundMessage, ReplyKind
from imaradesk.channels.twilio import TwilioChannel
from imaradesk.channels.twilio_sender import TwilioSender
from tests.fakes.twilio_api import FakeTwilioApi

ACCOUNT = ProviderAccount(account_id="AC" + "e" * 32, secret="tok", sender="whatsapp:+14155238886")


@pytest.fixture
def fake() -> Iterator[FakeTwilioApi]:
    server = FakeTwilioApi(ACCOUNT.account_id, ACCOUNT.secret).start()
    yield server
    server.stop()


def _send(fake: FakeTwilioApi, channel: str, base_url: str | None) -> dict[str, str]:
    adapter = TwilioChannel(sender=TwilioSender(api_base_url=fake.url), public_base_url=base_url)
    adapter.send(
        OutboundMessage("hi", ReplyKind.HANDOFF, message_id=7),
        to=Recipient(org_id=1, org_slug="acme", channel=channel, address="+254711000444"),
        account=ACCOUNT,
    )
    return fake.received[-1]


def test_whatsapp_goes_from_the_whatsapp_sender_with_a_status_callback(fake) -> None:
    sent = _send(fake, "whatsapp", "https://desk.example/")
    assert sent["To"] == "whatsapp:+254711000444" and sent["From"] == "whatsapp:+14155238886"
    assert sent["StatusCallback"] == "https://desk.example/channels/twilio/acme/status?m=7"


def test_sms_uses_the_same_number_bare_and_no_callback_without_a_public_url(fake) -> None:
    sent = _send(fake, "sms", None)
    assert sent["To"] == "+254711000444" and sent["From"] == "+14155238886"
    assert "StatusCallback" not in sent

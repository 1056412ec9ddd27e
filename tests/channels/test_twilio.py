"""The Twilio adapter on its own: signatures, parsing, TwiML and statuses."""

from __future__ import annotations

from datetime import UTC, datetime
from xml.etree import ElementTree

import pytest
from twilio.request_validator import RequestValidator
from werkzeug.datastructures import MultiDict

from imaradesk.channels.base import MalformedRequest, SignatureInvalid
from imaradesk.channels.messages import OutboundMessage, ReplyKind
from imaradesk.channels.twilio import (
    TWILIO_MAX_BODY,
    TwilioChannel,
    parse_status,
    status_supersedes,
    verify_signature,
)
from tests.helpers import twilio_form

NOW = datetime(2026, 11, 2, tzinfo=UTC)

# Twilio's published worked example (twilio-csharp's RequestValidatorTest and the security docs).
DOC_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
DOC_TOKEN = "12345"
DOC_PARAMS_SDK = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+14158675309",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
}
DOC_SIGNATURE_SDK = "RSOYDt4T1cUTdK1PDd93/VVr8B8="
DOC_PARAMS_DOCS = {**DOC_PARAMS_SDK, "Caller": "+12349013030", "From": "+12349013030"}
DOC_SIGNATURE_DOCS = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


@pytest.mark.parametrize(
    ("params", "signature"),
    [(DOC_PARAMS_SDK, DOC_SIGNATURE_SDK), (DOC_PARAMS_DOCS, DOC_SIGNATURE_DOCS)],
)
def test_published_signature_vectors_are_accepted(params: dict[str, str], signature: str) -> None:
    # Proves our check is Twilio's algorithm, not merely consistent with itself.
    verify_signature(auth_token=DOC_TOKEN, url=DOC_URL, params=params, signature=signature)


def test_published_vector_fails_when_anything_changes() -> None:
    tampered = {**DOC_PARAMS_SDK, "Digits": "1235"}
    with pytest.raises(SignatureInvalid):
        verify_signature(
            auth_token=DOC_TOKEN, url=DOC_URL, params=tampered, signature=DOC_SIGNATURE_SDK
        )
    with pytest.raises(SignatureInvalid):
        verify_signature(
            auth_token="54321", url=DOC_URL, params=DOC_PARAMS_SDK, signature=DOC_SIGNATURE_SDK
        )
    with pytest.raises(SignatureInvalid):
        verify_signature(
            auth_token=DOC_TOKEN,
            url=DOC_URL.replace("foo=1", "foo=2"),
            params=DOC_PARAMS_SDK,
            signature=DOC_SIGNATURE_SDK,
        )
    with pytest.raises(SignatureInvalid, match="missing"):
        verify_signature(auth_token=DOC_TOKEN, url=DOC_URL, params=DOC_PARAMS_SDK, signature=None)


def test_signature_covers_repeated_and_unknown_fields() -> None:
    # A field we have never heard of is still part of what Twilio signed.
    form = MultiDict([("Body", "hi"), ("From", "whatsapp:+254700000001"), ("NewTwilioField", "x")])
    url = "https://desk.example/channels/twilio/acme/messages"
    signature = RequestValidator("tok").compute_signature(url, form)
    verify_signature(auth_token="tok", url=url, params=form, signature=signature)
    form.add("NewTwilioField", "y")
    with pytest.raises(SignatureInvalid):
        verify_signature(auth_token="tok", url=url, params=form, signature=signature)


SID = "SM" + "ab12" * 8


def test_parse_reads_every_field_that_matters() -> None:
    form = twilio_form(
        body="Hello",
        sid=SID,
        ProfileName="Achieng",
        NumMedia="2",
        MediaUrl0="https://api.twilio.com/media/1",
        MediaContentType0="image/jpeg",
        MediaUrl1="https://api.twilio.com/media/2",
        MediaContentType1="audio/ogg",
        ButtonPayload="opt_balance",
    )
    [message] = TwilioChannel().parse(form, org_slug="acme", received_at=NOW)
    assert message.channel == "whatsapp"
    assert message.sender_id == "+254700000001"
    assert message.provider_message_id == SID
    assert message.text == "Hello"
    assert message.profile_name == "Achieng"
    assert [m.content_type for m in message.media] == ["image/jpeg", "audio/ogg"]
    assert message.media[1].url == "https://api.twilio.com/media/2"
    assert message.button_payload == "opt_balance"
    assert message.recipient_id == "+14155238886"


def test_parse_sms_sender_is_its_own_channel() -> None:
    [message] = TwilioChannel().parse(
        twilio_form(body="hi", sender="+254711111111"), org_slug="a", received_at=NOW
    )
    assert (message.channel, message.sender_id) == ("sms", "+254711111111")


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"MessageSid": "", "SmsMessageSid": ""}, "MessageSid"),
        ({"From": ""}, "From"),
        ({"NumMedia": "many"}, "NumMedia"),
        ({"NumMedia": "99"}, "NumMedia"),
    ],
)
def test_parse_refuses_unusable_requests(change: dict[str, str], error: str) -> None:
    form = {**twilio_form(body="hi"), **change}
    with pytest.raises(MalformedRequest, match=error):
        TwilioChannel().parse(form, org_slug="a", received_at=NOW)


def test_render_splits_long_replies_under_the_limit_at_sentences() -> None:
    sentence = "This sentence is part of a very long answer about fees and limits. "
    long_text = sentence * 60
    replies = [
        OutboundMessage("Short notice.", ReplyKind.PRIVACY_NOTICE, message_id=7),
        OutboundMessage(long_text, ReplyKind.ANSWER, message_id=8),
    ]
    xml = TwilioChannel().render(
        replies, status_url="https://desk.example/channels/twilio/a/status"
    )
    messages = ElementTree.fromstring(xml).findall("Message")
    bodies = [m.text or "" for m in messages]
    assert bodies[0] == "Short notice."
    assert len(bodies) >= 4
    assert all(len(b) <= TWILIO_MAX_BODY for b in bodies)
    assert all(b.endswith(".") for b in bodies[1:]), "chunks end at sentence boundaries"
    assert " ".join(bodies[1:]) == long_text.strip()
    assert messages[0].get("action") == "https://desk.example/channels/twilio/a/status?m=7"
    assert messages[1].get("action").endswith("?m=8")


def test_status_callbacks_parse_and_never_move_backwards() -> None:
    callback = parse_status({"MessageSid": SID, "MessageStatus": "delivered"}, {"m": "12"})
    assert (callback.provider_message_id, callback.status, callback.our_message_id) == (
        SID,
        "delivered",
        12,
    )
    assert status_supersedes("sent", None)
    assert status_supersedes("delivered", "sent")
    assert status_supersedes("read", "delivered")
    assert not status_supersedes("sent", "delivered"), "a late 'sent' must not undo 'delivered'"
    assert status_supersedes("failed", "queued")
    with pytest.raises(MalformedRequest):
        parse_status({"MessageSid": SID, "MessageStatus": "exploded"}, {})
    with pytest.raises(MalformedRequest):
        parse_status({"MessageStatus": "sent"}, {})
    with pytest.raises(MalformedRequest, match="not a Twilio message id"):
        parse_status({"MessageSid": SID + "x", "MessageStatus": "sent"}, {})

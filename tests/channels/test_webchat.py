"""The web-chat adapter's validation."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from imaradesk.channels.base import MalformedRequest
from imaradesk.channels.webchat import WebChatChannel

NOW = datetime(2026, 11, 2, tzinfo=UTC)


def test_parses_a_message_with_and_without_client_id() -> None:
    [with_id] = WebChatChannel().parse(
        {"sender": "v1", "text": "hi", "id": "c-1"}, org_slug="a", received_at=NOW
    )
    assert (with_id.sender_id, with_id.text, with_id.provider_message_id) == ("v1", "hi", "c-1")
    [a] = WebChatChannel().parse({"sender": "v1", "text": "hi"}, org_slug="a", received_at=NOW)
    [b] = WebChatChannel().parse({"sender": "v1", "text": "hi"}, org_slug="a", received_at=NOW)
    assert a.provider_message_id != b.provider_message_id


@pytest.mark.parametrize(
    ("payload", "complaint"),
    [
        ([], "JSON object"),
        ({"text": "hi"}, '"sender"'),
        ({"sender": "  ", "text": "hi"}, '"sender"'),
        ({"sender": 5, "text": "hi"}, '"sender"'),
        ({"sender": "v"}, '"text"'),
        ({"sender": "v", "text": ""}, '"text"'),
        ({"sender": "v", "text": "x" * 5000}, "longer"),
        ({"sender": "v", "text": "hi", "id": 3}, '"id"'),
    ],
)
def test_refuses_bad_payloads_saying_what_is_wrong(payload: object, complaint: str) -> None:
    with pytest.raises(MalformedRequest, match=complaint):
        WebChatChannel().parse(payload, org_slug="a", received_at=NOW)


def test_a_reply_renders_its_choices_for_buttons() -> None:
    from imaradesk.channels.messages import OutboundMessage, ReplyKind, ReplyOption

    reply = OutboundMessage(
        "Did you mean one of these?", ReplyKind.CLARIFY, options=(ReplyOption("1", "Fees"),)
    )
    [rendered] = WebChatChannel().render([reply])["replies"]
    assert rendered["options"] == [{"id": "1", "title": "Fees"}]
    plain = WebChatChannel().render([OutboundMessage("Hi", ReplyKind.ANSWER)])["replies"][0]
    assert plain["options"] == []

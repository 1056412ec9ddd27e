"""The Rasa-compatible REST channel through a real Flask server on loopback: a widget built for
Rasa's /webhooks/rest/webhook gets our answers in Rasa's shape, bad requests are refused with
a clear status and message, and what an agent writes arrives with the visitor's next message.
Only a visitor token of ours is an identity (as the sender or as a bearer header): a sender
string anyone could type is refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import requests

from imaradesk.channels.base import MalformedRequest
from imaradesk.channels.rasa_rest import MessageTooLong, RasaRestChannel
from imaradesk.storage.repositories import OrgData
from tests.helpers import seed_org

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


@pytest.fixture
def server(make_services, live_server_factory):
    services = make_services()
    seed_org(services, "wallet")
    return live_server_factory(services)


def visitor_token(server, slug: str = "wallet") -> str:
    return requests.post(f"{server.url}/channels/webchat/{slug}/visitors", timeout=10).json()[
        "token"
    ]


def address_of(server, token: str, slug: str = "wallet") -> str:
    org = server.services.organizations.by_slug(slug)
    return server.services.visitors.verify(token, org_id=org.id).address


@pytest.fixture
def v(server) -> dict[str, str]:
    """Visitor tokens by name, each asked for on first use."""

    class Tokens(dict):
        def __missing__(self, name: str) -> str:
            self[name] = visitor_token(server)
            return self[name]

    return Tokens()


def webhook(server, body: object = None, *, slug: str = "wallet", **kwargs: object):
    if body is not None:
        kwargs["json"] = body
    return requests.post(f"{server.url}/channels/rasa/{slug}/webhook", timeout=10, **kwargs)


def test_a_rasa_widget_gets_the_answer_in_rasas_shape(server, v) -> None:
    response = webhook(server, {"sender": v["visitor-1"], "message": "How do I check my balance?"})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    notice, answer = response.json()
    assert set(answer) == {"recipient_id", "text"}
    assert answer == {"recipient_id": v["visitor-1"], "text": "Dial *483*1# to see your balance."}
    assert notice["recipient_id"] == v["visitor-1"] and "privacy" in notice["text"].lower()
    # The second message of the same visitor gets no second notice.
    again = webhook(server, {"sender": v["visitor-1"], "message": "How do I reset my PIN?"}).json()
    assert [r["text"] for r in again] == ["Dial *483*7# and follow the prompts to reset your PIN."]


def test_the_tokens_visitor_is_a_contact_on_the_rasa_channel(server, v) -> None:
    webhook(server, {"sender": v["w7"], "message": "hi"})
    address = address_of(server, v["w7"])
    assert address.startswith("web-"), "the server chose the address, not the widget"
    org = server.services.organizations.by_slug("wallet")
    with server.services.database.read() as session:
        data = OrgData(session, org.id)
        assert data.find_contact("rasa", address) is not None
        assert data.find_contact("webchat", address) is None
        assert data.find_contact("rasa", v["w7"]) is None, "the token itself is never stored"


def test_a_bearer_token_names_the_visitor_whatever_the_sender_says(server, v) -> None:
    """Widgets that can set headers keep their own sender id; the token decides the contact."""
    response = webhook(
        server,
        {"sender": "widget-session-1", "message": "How do I check my balance?"},
        headers={"Authorization": f"Bearer {v['h1']}"},
    )
    assert response.status_code == 200
    assert response.json()[-1] == {
        "recipient_id": "widget-session-1",
        "text": "Dial *483*1# to see your balance.",
    }
    org = server.services.organizations.by_slug("wallet")
    with server.services.database.read() as session:
        data = OrgData(session, org.id)
        assert data.find_contact("rasa", address_of(server, v["h1"])) is not None
        assert data.find_contact("rasa", "widget-session-1") is None


@pytest.mark.parametrize(
    "sender",
    ["visitor-1", "+254700000001", "web-guessed", "not.a.token.at-all"],
)
def test_a_sender_that_is_not_our_token_is_refused_and_nothing_is_stored(server, sender) -> None:
    """The old hole: any string was an identity, so a guessed sender read that conversation."""
    response = webhook(server, {"sender": sender, "message": "STOP"})
    assert response.status_code == 401
    assert "visitor token" in response.json()["message"]
    assert response.headers["WWW-Authenticate"].lower().startswith("bearer")
    org = server.services.organizations.by_slug("wallet")
    with server.services.database.read() as session:
        assert OrgData(session, org.id).find_contact("rasa", sender) is None


def test_another_organizations_token_is_refused(server) -> None:
    seed_org(server.services, "school")
    school_token = visitor_token(server, "school")
    response = webhook(server, {"sender": school_token, "message": "hi"})
    assert response.status_code == 401, "a token of one organization is nothing to another"
    assert webhook(server, {"sender": school_token, "message": "hi"}, slug="school").ok


def test_a_body_sent_as_text_plain_is_read_as_json_like_rasa_does(server, v) -> None:
    response = webhook(
        server,
        data=json.dumps({"sender": v["v2"], "message": "How do I check my balance?"}).encode(),
        headers={"Content-Type": "text/plain"},
    )
    assert response.status_code == 200
    assert response.json()[-1]["text"] == "Dial *483*1# to see your balance."


def test_a_retry_with_a_message_id_is_answered_from_the_stored_replies(server, v) -> None:
    body = {"sender": v["v3"], "message": "How do I check my balance?", "message_id": "m-1"}
    first = webhook(server, body).json()
    assert webhook(server, body).json() == first
    org = server.services.organizations.by_slug("wallet")
    with server.services.database.read() as session:
        data = OrgData(session, org.id)
        contact = data.find_contact("rasa", address_of(server, v["v3"]))
        [conversation] = data.conversations_of(contact.id)
        assert len(data.messages_of(conversation.id)) == 1 + len(first)


@pytest.mark.parametrize(
    ("kwargs", "status", "message"),
    [
        (
            {"data": b"{not json", "headers": {"Content-Type": "application/json"}},
            400,
            "not valid JSON",
        ),
        ({"data": b""}, 400, "send a JSON object"),
        ({"json": ["sender", "message"]}, 400, "must be a JSON object"),
        ({"json": {"message": "hi"}}, 400, '"sender" is required'),
        ({"json": {"sender": "", "message": "hi"}}, 400, '"sender" is required'),
        ({"json": {"sender": True, "message": "hi"}}, 400, '"sender" is required'),
        ({"json": {"sender": "v", "message": ""}}, 400, '"message" is required'),
        ({"json": {"sender": "v", "message": {"text": "hi"}}}, 400, '"message" is required'),
        ({"json": {"sender": "v" * 513, "message": "hi"}}, 400, "longer than 512"),
        ({"json": {"sender": "v", "message": "x" * 4097}}, 413, "longer than 4096"),
        ({"json": {"sender": "v", "message": "hi", "message_id": 7}}, 400, '"message_id"'),
        ({"data": b'{"sender": "v", "message": "' + b"x" * 70_000 + b'"}'}, 413, "too large"),
    ],
)
def test_bad_requests_say_what_is_wrong(server, kwargs: dict, status: int, message: str) -> None:
    response = webhook(server, **kwargs)
    assert response.status_code == status, response.text
    assert message in response.json()["message"]


def test_an_unknown_organization_is_404(server) -> None:
    response = webhook(server, {"sender": "v", "message": "hi"}, slug="nobody")
    assert response.status_code == 404
    assert "unknown organization" in response.json()["message"]


def test_widgets_on_another_site_may_call_it(server, v) -> None:
    """A browser asks first (CORS preflight) because the body is JSON; both answers allow it."""
    preflight = requests.options(
        f"{server.url}/channels/rasa/wallet/webhook",
        headers={
            "Origin": "https://wallet.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
        timeout=10,
    )
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert preflight.headers["Access-Control-Allow-Headers"] == "Content-Type, Authorization"
    response = webhook(
        server, {"sender": v["cors"], "message": "hi"}, headers={"Origin": "https://wallet.example"}
    )
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "Set-Cookie" not in response.headers
    bad = webhook(server, {"sender": "v"})
    assert bad.headers["Access-Control-Allow-Origin"] == "*", "the widget can read the error"


def test_an_agents_reply_arrives_with_the_visitors_next_message_once(server, v) -> None:
    """Rasa's REST channel cannot push: what a person wrote comes with the next answer."""
    handoff = webhook(server, {"sender": v["v9"], "message": "I want to talk to an agent"}).json()
    assert handoff and handoff[-1]["recipient_id"] == v["v9"]
    services = server.services
    org = services.organizations.by_slug("wallet")
    with services.database.read() as session:
        data = OrgData(session, org.id)
        contact = data.find_contact("rasa", address_of(server, v["v9"]))
        conversation = data.current_conversation(contact.id)
    services.outbound.send_text(org, conversation, "Hi, Amina here.", agent_id=None)
    nxt = webhook(server, {"sender": v["v9"], "message": "hello?"}).json()
    assert nxt == [{"recipient_id": v["v9"], "text": "Hi, Amina here."}]
    assert webhook(server, {"sender": v["v9"], "message": "still there?"}).json() == []
    # Another visitor never gets it.
    other = webhook(server, {"sender": v["v10"], "message": "How do I check my balance?"}).json()
    assert all("Amina" not in r["text"] for r in other)


def test_stop_is_confirmed_then_the_bot_stays_silent(server, v) -> None:
    webhook(server, {"sender": v["v11"], "message": "hi"})
    stop = webhook(server, {"sender": v["v11"], "message": "STOP"}).json()
    assert len(stop) == 1
    assert (
        webhook(server, {"sender": v["v11"], "message": "How do I check my balance?"}).json() == []
    )


def test_parse_is_pure_and_keeps_sender_ids_apart() -> None:
    channel = RasaRestChannel()
    [a] = channel.parse({"sender": 12345, "message": "hi"}, org_slug="wallet", received_at=NOW)
    [b] = channel.parse({"sender": " 12345 ", "message": "hi"}, org_slug="wallet", received_at=NOW)
    assert (a.channel, a.sender_id, b.sender_id) == ("rasa", "12345", "12345")
    assert a.provider_message_id != b.provider_message_id  # server ids without a client id
    with pytest.raises(MessageTooLong):
        channel.parse({"sender": "v", "message": "x" * 4097}, org_slug="w", received_at=NOW)
    with pytest.raises(MalformedRequest):
        channel.parse({"sender": "v", "text": "hi"}, org_slug="w", received_at=NOW)

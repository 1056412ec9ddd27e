"""The JSON web-chat endpoints on a real loopback server: answers, history after a reload, and
identity. A visitor is whoever holds the token we signed for them, never a ``sender`` string a
client chose: before, anyone who knew or guessed another visitor's sender read that
conversation's agent replies, asked for that person's data or opted them out."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
import requests
from sqlmodel import func, select

from imaradesk.channels.visitor_identity import identity_signature
from imaradesk.storage.compliance_repository import ComplianceData
from imaradesk.storage.db import Database
from imaradesk.storage.models import Message
from imaradesk.storage.repositories import OrgData
from tests.helpers import WebVisitor, seed_org

IDENTITY_SECRET = "acme-web-identity-secret-0123456789"


@pytest.fixture
def server(make_services, live_server_factory, sqlite_database: Database):
    services = make_services(sqlite_database)
    seed_org(services, "acme")
    return live_server_factory(services)


def url(server, org: str = "acme", endpoint: str = "messages") -> str:
    return f"{server.url}/channels/webchat/{org}/{endpoint}"


def test_answers_with_sources(server) -> None:
    replies = WebVisitor(server.url, "acme").replies("How do I check my balance?")
    assert [r["kind"] for r in replies] == ["privacy_notice", "answer"]
    answer = replies[1]
    assert answer["text"] == "Dial *483*1# to see your balance."
    assert answer["handoff"] is False
    [source] = answer["sources"]
    assert source["question"] == "How do I check my balance?"
    assert isinstance(source["entry_id"], int) and 0 < source["score"] <= 1


def test_a_swahili_visitor_is_spoken_to_in_swahili(server) -> None:
    """What the product writes itself (the notice, the clarify prompt) follows the customer's
    language through the web chat too (the hashing encoder of these tests finds no entry)."""
    replies = WebVisitor(server.url, "acme").replies("Nawezaje kuangalia salio langu?")
    assert [r["kind"] for r in replies] == ["privacy_notice", "clarify"]
    assert replies[0]["text"].startswith("Habari, unazungumza na msaidizi wa Acme.")
    assert "Sera ya faragha: https://acme.example/privacy" in replies[0]["text"]
    assert replies[1]["text"].startswith("Samahani, sijaelewa")


def test_retry_with_a_client_id_is_answered_from_the_stored_replies(server) -> None:
    visitor = WebVisitor(server.url, "acme")
    first = visitor.replies("How do I reset my PIN?", id="client-msg-1")
    assert visitor.replies("How do I reset my PIN?", id="client-msg-1") == first


def test_handoff_is_flagged(server) -> None:
    replies = WebVisitor(server.url, "acme").replies("I want to talk to a human")
    assert replies[-1]["handoff"] is True


def test_a_reload_shows_the_conversation_so_far_and_a_new_browser_sees_nothing(server) -> None:
    visitor = WebVisitor(server.url, "acme")
    replies = visitor.replies("How do I check my balance?")
    shown = visitor.history()
    assert [(m["from"], m["text"]) for m in shown] == [
        ("you", "How do I check my balance?"),
        *[("assistant", r["text"]) for r in replies],
    ]
    assert [m["id"] for m in shown] == sorted(m["id"] for m in shown), "oldest first"
    assert WebVisitor(server.url, "acme").history() == []


def test_a_renewed_token_keeps_the_conversation(server) -> None:
    visitor = WebVisitor(server.url, "acme")
    visitor.replies("How do I check my balance?")
    renewed = requests.post(url(server, endpoint="visitors"), headers=visitor.headers, timeout=10)
    assert renewed.status_code == 201
    again = WebVisitor(server.url, "acme", token=renewed.json()["token"])
    assert again.history() == visitor.history()


@pytest.mark.parametrize(
    ("method", "endpoint"), [("post", "messages"), ("get", "messages"), ("get", "history")]
)
def test_no_token_no_conversation(server, method: str, endpoint: str) -> None:
    response = requests.request(
        method, url(server, endpoint=endpoint), json={"text": "STOP"}, timeout=10
    )
    assert response.status_code == 401
    assert "visitor token is required" in response.json()["message"]
    assert response.headers["WWW-Authenticate"].lower().startswith("bearer")


def test_a_guessed_sender_reads_and_changes_nothing_of_another_visitor(server) -> None:
    """The old attack, step by step: learn a visitor's address, then poll it, ask for their
    data and send STOP in their name. Every request lands in the attacker's own conversation."""
    services = server.services
    victim = WebVisitor(server.url, "acme")
    victim.replies("I want to talk to a human")
    org = services.organizations.by_slug("acme")
    address = services.visitors.verify(victim.token, org_id=org.id).address
    with services.database.read() as session:
        data = OrgData(session, org.id)
        conversation = data.current_conversation(data.find_contact("webchat", address).id)
    services.outbound.send_text(
        org, conversation, "Your refund of KES 2,000 is ready.", agent_id=None
    )

    attacker = WebVisitor(server.url, "acme")
    stolen = requests.get(
        url(server), params={"sender": address, "after": 0}, headers=attacker.headers, timeout=10
    )
    assert stolen.status_code == 200 and stolen.json()["messages"] == []
    attacker.send("send me my data", sender=address)
    attacker.send("STOP", sender=address)
    assert all("refund" not in m["text"] for m in attacker.history())

    assert "refund" in victim.poll()[-1]["text"], "the victim still gets the agent's reply"
    attacker_address = services.visitors.verify(attacker.token, org_id=org.id).address
    with services.database.read() as session:
        data = OrgData(session, org.id)
        victim_contact = data.find_contact("webchat", address)
        assert not victim_contact.opted_out, "the STOP was not theirs"
        assert data.find_contact("webchat", attacker_address).opted_out, "it was the attacker's"
        requests_made = ComplianceData(session, org.id).privacy_requests()
        assert requests_made, "the data request was registered"
        assert all(r.contact_id != victim_contact.id for r in requests_made), (
            "for the attacker, not for the victim"
        )


@pytest.mark.parametrize(
    "token",
    ["web-guessed", "eyJvIjoxLCJhIjoid2ViLXgifQ.aaaaaa.bbbbbbbbbbbbbbbbbbbbbbbbbbb", ""],
)
def test_a_forged_token_is_refused_and_nothing_is_stored(server, token: str) -> None:
    before = _messages(server)
    response = requests.post(
        url(server),
        json={"text": "How do I check my balance?"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert response.status_code == 401
    assert _messages(server) == before


def test_a_tampered_token_is_refused(server) -> None:
    visitor = WebVisitor(server.url, "acme")
    payload, stamp, signature = visitor.token.split(".")
    # The first character, not the last: base64's last character of a 32-byte signature
    # carries padding bits, so changing it may leave the same bytes (and a valid token).
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    forged = WebVisitor(server.url, "acme", token=f"{payload}.{stamp}.{flipped}")
    assert forged.send("hi").status_code == 401


def test_an_expired_token_is_refused_with_a_clear_message(server, clock) -> None:
    visitor = WebVisitor(server.url, "acme")
    clock.advance(timedelta(days=server.services.settings.visitor_token_days, seconds=5))
    response = visitor.send("hi")
    assert response.status_code == 401
    assert "expired" in response.json()["message"]
    renewal = requests.post(url(server, endpoint="visitors"), headers=visitor.headers, timeout=10)
    assert renewal.status_code == 401, "an expired token cannot be renewed either"


def test_another_organizations_token_is_refused(server) -> None:
    seed_org(server.services, "school")
    school_visitor = WebVisitor(server.url, "school")
    assert school_visitor.send("hi").status_code == 200
    acme_with_school_token = WebVisitor(server.url, "acme", token=school_visitor.token)
    assert acme_with_school_token.send("hi").status_code == 401


def test_a_signed_in_customer_keeps_their_history_across_devices(server) -> None:
    services = server.services
    org = services.organizations.by_slug("acme")
    services.organizations.update(org.id, webchat_identity_secret=IDENTITY_SECRET)
    # What the organization's own server computes for its signed-in customer.
    claim = {"user_id": "cust-1042", "user_hash": identity_signature(IDENTITY_SECRET, "cust-1042")}
    phone = requests.post(url(server, endpoint="visitors"), json=claim, timeout=10)
    assert phone.status_code == 201 and phone.json()["identified"] is True
    WebVisitor(server.url, "acme", token=phone.json()["token"]).replies("How do I reset my PIN?")
    laptop = requests.post(url(server, endpoint="visitors"), json=claim, timeout=10).json()
    shown = WebVisitor(server.url, "acme", token=laptop["token"]).history()
    assert shown[0]["text"] == "How do I reset my PIN?"


@pytest.mark.parametrize(
    ("claim", "status", "message"),
    [
        ({"user_id": "cust-1042", "user_hash": "0" * 64}, 403, "not the organization's signature"),
        ({"user_id": "cust-1042"}, 400, "must both be strings"),
        ({"user_id": "bad id\n", "user_hash": "00"}, 403, "must be 1-128"),
        ({"user_id": "web-abc", "user_hash": "00"}, 403, "not the organization's signature"),
    ],
)
def test_a_wrong_identity_claim_is_refused(server, claim: dict, status: int, message: str) -> None:
    services = server.services
    org = services.organizations.by_slug("acme")
    services.organizations.update(org.id, webchat_identity_secret=IDENTITY_SECRET)
    response = requests.post(url(server, endpoint="visitors"), json=claim, timeout=10)
    assert response.status_code == status, response.text
    assert message in response.json()["message"]


def test_an_organization_without_an_identity_secret_identifies_nobody(server) -> None:
    # A hash under an empty secret must not pass for an organization that never set one.
    claim = {"user_id": "cust-1", "user_hash": identity_signature("", "cust-1")}
    response = requests.post(url(server, endpoint="visitors"), json=claim, timeout=10)
    assert response.status_code == 403
    assert "does not sign" in response.json()["message"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"data": "{not json", "headers": {"Content-Type": "application/json"}}, "not valid JSON"),
        ({"data": "text=y"}, "Content-Type: application/json"),
        ({"json": {"sender": "v"}}, '"text" is required'),
        ({"json": ["sender", "text"]}, "JSON object"),
    ],
)
def test_bad_requests_say_what_is_wrong(server, kwargs: dict, message: str) -> None:
    visitor = WebVisitor(server.url, "acme")
    headers = {**kwargs.pop("headers", {}), **visitor.headers}
    response = requests.post(url(server), timeout=10, headers=headers, **kwargs)
    assert response.status_code == 400
    assert message in response.json()["message"]


def test_unknown_org_and_oversized_body(server) -> None:
    assert requests.post(url(server, "nobody", "visitors"), timeout=10).status_code == 404
    visitor = WebVisitor(server.url, "acme")
    huge = requests.post(
        url(server), json={"text": "x" * 100_000}, headers=visitor.headers, timeout=10
    )
    assert huge.status_code == 413


def test_a_widget_on_another_site_may_call_it_with_its_token(server) -> None:
    preflight = requests.options(
        url(server),
        headers={
            "Origin": "https://shop.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
        timeout=10,
    )
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]
    visitor = WebVisitor(server.url, "acme")
    response = visitor.send("hi")
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "Set-Cookie" not in response.headers, "no cookie: the token alone is the identity"


def test_health(server) -> None:
    assert requests.get(f"{server.url}/healthz", timeout=10).json() == {"status": "ok"}


def _messages(server) -> int:
    org = server.services.organizations.by_slug("acme")
    with server.services.database.read() as session:
        return session.exec(
            select(func.count()).select_from(Message).where(Message.org_id == org.id)
        ).one()


def _conversation_of(server, visitor: WebVisitor):
    services = server.services
    org = services.organizations.by_slug("acme")
    address = services.visitors.verify(visitor.token, org_id=org.id).address
    with services.database.read() as session:
        data = OrgData(session, org.id)
        return org, data.current_conversation(data.find_contact("webchat", address).id)


def test_a_waiting_poll_brings_a_persons_reply_as_soon_as_it_is_written(server) -> None:
    """Proves the poll waits: it was sent before the reply existed and still returns it."""
    visitor = WebVisitor(server.url, "acme")
    visitor.replies("I want to talk to a human")
    org, conversation = _conversation_of(server, visitor)
    result: dict = {}

    def wait_for_reply() -> None:
        result["response"] = requests.get(
            visitor.url(), params={"after": 0, "wait": 15}, headers=visitor.headers, timeout=30
        ).json()

    poller = threading.Thread(target=wait_for_reply)
    poller.start()
    time.sleep(1.0)  # the poll is waiting by now (it checks twice a second)
    assert poller.is_alive(), "with nothing to return, the poll waits"
    server.services.outbound.send_text(org, conversation, "Hi, Amina here.", agent_id=None)
    poller.join(timeout=20)
    assert result["response"]["waited"] is True
    assert [m["text"] for m in result["response"]["messages"]] == ["Hi, Amina here."]


def test_polls_past_the_cap_answer_at_once_so_webhooks_keep_their_threads(
    make_services, live_server_factory, sqlite_database
) -> None:
    services = make_services(sqlite_database, webchat_waiting_polls=1)
    seed_org(services, "acme")
    server = live_server_factory(services)
    first, second = WebVisitor(server.url, "acme"), WebVisitor(server.url, "acme")
    holding = threading.Thread(
        target=lambda: requests.get(
            first.url(), params={"wait": 6}, headers=first.headers, timeout=30
        )
    )
    holding.start()
    time.sleep(1.5)  # ample for the first poll to take the slot, even on a loaded machine
    answer = requests.get(second.url(), params={"wait": 3}, headers=second.headers, timeout=30)
    assert holding.is_alive(), "the first poll still holds the only waiting slot"
    assert answer.json() == {"messages": [], "waited": False}
    holding.join()
    again = requests.get(second.url(), params={"wait": 1}, headers=second.headers, timeout=30)
    assert again.json()["waited"] is True, "the slot is free again"


@pytest.mark.parametrize("wait", ["-1", "abc", "1000"])
def test_a_bad_wait_is_refused(server, wait: str) -> None:
    visitor = WebVisitor(server.url, "acme")
    response = requests.get(
        visitor.url(), params={"wait": wait}, headers=visitor.headers, timeout=10
    )
    assert response.status_code == 400 and '"wait"' in response.json()["message"]

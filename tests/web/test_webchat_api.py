"""The JSON web-chat endpoint on a real loopback server."""

from __future__ import annotations

import pytest
import requests

from imaradesk.storage.db import Database
from tests.helpers import seed_org


@pytest.fixture
def server(make_services, live_server_factory, sqlite_database: Database):
    services = make_services(sqlite_database)
    seed_org(services, "acme")
    return live_server_factory(services)


def url(server, org: str = "acme") -> str:
    return f"{server.url}/channels/webchat/{org}/messages"


def test_answers_with_sources(server) -> None:
    response = requests.post(
        url(server), json={"sender": "visitor-1", "text": "How do I check my balance?"}, timeout=10
    )
    assert response.status_code == 200
    replies = response.json()["replies"]
    assert [r["kind"] for r in replies] == ["privacy_notice", "answer"]
    answer = replies[1]
    assert answer["text"] == "Dial *483*1# to see your balance."
    assert answer["handoff"] is False
    [source] = answer["sources"]
    assert source["question"] == "How do I check my balance?"
    assert isinstance(source["entry_id"], int) and 0 < source["score"] <= 1


def test_retry_with_a_client_id_is_answered_from_the_stored_replies(server) -> None:
    body = {"sender": "visitor-2", "text": "How do I reset my PIN?", "id": "client-msg-1"}
    first = requests.post(url(server), json=body, timeout=10).json()
    again = requests.post(url(server), json=body, timeout=10).json()
    assert first == again


def test_handoff_is_flagged(server) -> None:
    replies = requests.post(
        url(server), json={"sender": "v3", "text": "I want to talk to a human"}, timeout=10
    ).json()["replies"]
    assert replies[-1]["handoff"] is True


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"data": "{not json", "headers": {"Content-Type": "application/json"}}, "not valid JSON"),
        ({"data": "sender=x&text=y"}, "Content-Type: application/json"),
        ({"json": {"text": "hi"}}, '"sender" is required'),
        ({"json": {"sender": "v"}}, '"text" is required'),
        ({"json": ["sender", "text"]}, "JSON object"),
    ],
)
def test_bad_requests_say_what_is_wrong(server, kwargs: dict, message: str) -> None:
    response = requests.post(url(server), timeout=10, **kwargs)
    assert response.status_code == 400
    assert message in response.json()["message"]


def test_unknown_org_and_oversized_body(server) -> None:
    assert (
        requests.post(
            url(server, "nobody"), json={"sender": "v", "text": "hi"}, timeout=10
        ).status_code
        == 404
    )
    huge = requests.post(url(server), json={"sender": "v", "text": "x" * 100_000}, timeout=10)
    assert huge.status_code == 413


def test_health(server) -> None:
    assert requests.get(f"{server.url}/healthz", timeout=10).json() == {"status": "ok"}


def test_one_visitors_message_id_never_replays_another_visitors_reply(server) -> None:
    # Web-chat ids come from the client: they are unique per visitor, not across visitors.
    requests.post(url(server), json={"sender": "visitor-a", "text": "hello", "id": "1"}, timeout=10)
    mine = requests.post(
        url(server), json={"sender": "visitor-a", "text": "send me my data", "id": "2"}, timeout=10
    ).json()
    theirs = requests.post(
        url(server), json={"sender": "visitor-b", "text": "hi", "id": "2"}, timeout=10
    ).json()
    assert "/privacy/exports/" in mine["replies"][-1]["text"]
    assert all("/privacy/exports/" not in r["text"] for r in theirs["replies"])
    assert theirs["replies"][-1]["kind"] == "small_talk"


def test_the_chat_page_speaks_the_visitors_language(server) -> None:
    """The page's own words: English by default, Swahili for ?lang=sw or a Swahili browser."""
    english = requests.get(f"{server.url}/chat/acme", timeout=10).text
    assert '<html lang="en">' in english
    assert 'placeholder="Ask a question…"' in english and ">Send</button>" in english
    swahili = requests.get(f"{server.url}/chat/acme", params={"lang": "sw"}, timeout=10).text
    assert '<html lang="sw">' in swahili
    assert 'placeholder="Uliza swali…"' in swahili and ">Tuma</button>" in swahili
    assert '"failed": "Hitilafu imetokea."' in swahili, "the script's words too"
    browser = requests.get(
        f"{server.url}/chat/acme",
        headers={"Accept-Language": "sw-KE,sw;q=0.9,en;q=0.5"},
        timeout=10,
    ).text
    assert "Zungumza na Acme" in browser
    # Each language is offered under its own name.
    assert (
        'lang="en">English</a>' in swahili
        and 'lang="sw" aria-current="true">Kiswahili</a>' in swahili
    )


def test_a_swahili_visitor_is_answered_in_swahili(server) -> None:
    replies = requests.post(
        url(server), json={"sender": "visitor-sw", "text": "nataka kuongea na mtu"}, timeout=10
    ).json()["replies"]
    assert replies[0]["text"].startswith("Habari, unazungumza na msaidizi wa Acme.")
    assert replies[-1]["handoff"] is True
    assert replies[-1]["text"].startswith("Ninakuunganisha na mhudumu wa timu yetu.")

"""JSON that trips the standard parser, on every JSON endpoint of a real loopback server.

Nested ~100,000 levels deep, ``json.loads`` raises RecursionError (Flask's silent JSON reading
does not catch it): each endpoint answers 400 and stores nothing. A lone UTF-16 surrogate
("\\ud800") parses but no database stores it: the message is kept, the character replaced.
"""

from __future__ import annotations

import pytest
import requests
from sqlmodel import func, select

from imaradesk.storage.models import KnowledgeEntry, Message
from tests.helpers import WebVisitor, seed_org

DEEP = b"[" * 100_000 + b"]" * 100_000
DEEP_OBJECT = b'{"text": ' + DEEP + b"}"


@pytest.fixture
def server(make_services, live_server_factory, database):
    services = make_services(database)
    seed_org(services, "acme")
    return live_server_factory(services)


def stored(server, model: type = Message) -> int:
    with server.services.database.read() as session:
        return session.exec(select(func.count()).select_from(model)).one()


def test_deep_json_is_a_400_everywhere_and_nothing_is_stored(server) -> None:
    visitor = WebVisitor(server.url, "acme")
    org = server.services.organizations.by_slug("acme")
    api_token = server.services.api_tokens.issue(org.id, "test").secret
    attempts = {
        "webchat": (visitor.url("messages"), visitor.headers),
        "rasa": (f"{server.url}/channels/rasa/acme/webhook", visitor.headers),
        "api": (f"{server.url}/api/v1/entries", {"Authorization": f"Bearer {api_token}"}),
    }
    for name, (url, headers) in attempts.items():
        for body in (DEEP, DEEP_OBJECT):
            response = requests.post(
                url,
                data=body,
                headers={**headers, "Content-Type": "application/json"},
                timeout=30,
            )
            assert response.status_code in (400, 413, 422), (name, response.status_code)
    assert stored(server) == 0 and stored(server, KnowledgeEntry) > 0


@pytest.mark.parametrize(
    "text",
    ["Habari \\ud800, nataka kujua salio", "How do I check my balance? \\udfff"],
)
def test_a_lone_surrogate_is_replaced_and_the_message_answered(server, text: str) -> None:
    visitor = WebVisitor(server.url, "acme")
    body = ('{"text": "' + text + '", "id": "m1"}').encode()
    response = requests.post(
        visitor.url("messages"),
        data=body,
        headers={**visitor.headers, "Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert response.json()["replies"], "answered"
    with server.services.database.read() as session:
        [inbound] = session.exec(select(Message).where(Message.direction == "inbound")).all()
    assert "\ud800" not in inbound.body and "\udfff" not in inbound.body
    assert "salio" in inbound.body or "balance" in inbound.body

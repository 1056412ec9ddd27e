"""Rate limits on a real loopback server: a visitor, an address and an organization each have
a ceiling on the web chat; signed provider webhooks have none (Twilio does not honour 429);
with Redis, the processes of one deployment share their counts."""

from __future__ import annotations

import pytest
import requests
from sqlmodel import func, select

from imaradesk.storage.models import Message
from tests.helpers import WebVisitor, post_signed, seed_org, twilio_form


def inbound(server) -> int:
    with server.services.database.read() as session:
        return session.exec(
            select(func.count()).select_from(Message).where(Message.direction == "inbound")
        ).one()


@pytest.fixture
def server(make_services, live_server_factory, sqlite_database):
    services = make_services(
        sqlite_database,
        limit_visitor_messages="5 per minute",
        limit_address_visitors="3 per minute",
    )
    seed_org(services, "acme")
    return live_server_factory(services)


def test_a_visitor_over_the_limit_gets_429_and_nothing_is_stored(server) -> None:
    visitor = WebVisitor(server.url, "acme")
    for text in ("Habari", "How do I check my balance?", "salio", "asante", "ok"):
        assert visitor.send(text).status_code == 200
    stored = inbound(server)
    refused = visitor.send("one too many")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert refused.json()["error"] == "too_many_requests"
    assert inbound(server) == stored, "a refused message is not half-handled"
    other = WebVisitor(server.url, "acme")
    assert other.send("Habari").status_code == 200, "another visitor has a count of their own"


def test_one_address_cannot_mint_visitors_without_end(server) -> None:
    tokens = [
        requests.post(f"{server.url}/channels/webchat/acme/visitors", timeout=10) for _ in range(4)
    ]
    assert [t.status_code for t in tokens] == [201, 201, 201, 429]


def test_signed_twilio_webhooks_are_never_limited(
    make_services, live_server_factory, sqlite_database
):
    services = make_services(sqlite_database, limit_address_messages="2 per minute")
    seed_org(services, "acme")
    server = live_server_factory(services)
    answers = [
        post_signed(
            f"{server.url}/channels/twilio/acme/messages",
            twilio_form(body="How do I check my balance?", sender=f"whatsapp:+25470000{n:04d}"),
        ).status_code
        for n in range(12)
    ]
    assert answers == [200] * 12, "Twilio does not honour 429: a limited message would be lost"


@pytest.mark.redis
def test_two_processes_on_redis_share_the_count(
    make_services, live_server_factory, sqlite_database, redis_url
) -> None:
    """Two web workers of one deployment: a visitor cannot double their allowance by landing
    on the other one (the count lives in Redis)."""
    services = make_services(
        sqlite_database, redis_url=redis_url, limit_visitor_messages="4 per minute"
    )
    seed_org(services, "acme")
    first, second = live_server_factory(services), live_server_factory(services)
    visitor = WebVisitor(first.url, "acme")
    statuses = []
    for n in range(6):
        target = first if n % 2 == 0 else second
        statuses.append(
            requests.post(
                f"{target.url}/channels/webchat/acme/messages",
                json={"text": f"swali {n}", "id": f"m{n}"},
                headers=visitor.headers,
                timeout=30,
            ).status_code
        )
    assert statuses == [200, 200, 200, 200, 429, 429]

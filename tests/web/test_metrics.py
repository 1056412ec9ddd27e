"""/metrics on a real loopback server: Prometheus text with the figures that matter moving as
things happen, open to loopback and to the metrics token only, and no customer data in it."""

from __future__ import annotations

import re

import pytest
import requests

from tests.helpers import WebVisitor, post_signed, seed_org, twilio_form


def value(text: str, name: str, **labels: str) -> float:
    """One sample of the scrape (0 when absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        match = re.match(rf"^{re.escape(name)}(?:\{{(.*)\}})? (\S+)$", line)
        if match and ",".join(sorted((match.group(1) or "").split(","))) == wanted:
            return float(match.group(2))
    return 0.0


@pytest.fixture
def server(make_services, live_server_factory, sqlite_database):
    services = make_services(
        sqlite_database, limit_visitor_messages="2 per minute", metrics_token="scrape-token"
    )
    seed_org(services, "acme")
    return live_server_factory(services)


def scrape(server, **headers: str) -> requests.Response:
    return requests.get(f"{server.url}/metrics", headers=headers, timeout=10)


def test_the_figures_move_as_things_happen(server) -> None:
    before = scrape(server).text
    visitor = WebVisitor(server.url, "acme")
    visitor.send("How do I check my balance?")
    visitor.send("Habari")
    assert visitor.send("one too many").status_code == 429
    post_signed(
        f"{server.url}/channels/twilio/acme/messages",
        twilio_form(body="hi"),
        token="not-the-token",
    )
    requests.post(
        f"{server.url}/console/login",
        data={"email": "nobody@acme.example", "password": "x" * 16},
        timeout=10,
    )
    after = scrape(server)
    assert after.status_code == 200 and after.headers["Content-Type"].startswith("text/plain")
    text = after.text

    def grew(name: str, **labels: str) -> float:
        return value(text, name, **labels) - value(before, name, **labels)

    assert grew("imaradesk_turns_total", channel="webchat", outcome="answered") >= 1
    assert grew("imaradesk_rate_limited_total", endpoint="webchat.inbound_message") == 1
    assert grew("imaradesk_signature_failures_total", channel="twilio") == 1
    assert (
        grew("imaradesk_http_requests_total", endpoint="webchat.inbound_message", status="429") == 1
    )
    assert "imaradesk_jobs_waiting" in text and "imaradesk_oldest_upload_seconds" in text
    for private in ("acme", "How do I check", "nobody@acme.example", "+2547"):
        assert private not in text, private


def test_only_loopback_or_the_token_reads_them(
    make_services, live_server_factory, sqlite_database
) -> None:
    """Behind a proxy the client is not loopback: without the token, refused."""
    services = make_services(sqlite_database, trusted_proxy_count=1, metrics_token="scrape-token")
    seed_org(services, "acme")
    server = live_server_factory(services)
    outside = {"X-Forwarded-For": "203.0.113.7"}
    assert scrape(server, **outside).status_code == 403
    assert scrape(server, **outside, Authorization="Bearer wrong").status_code == 403
    assert scrape(server, **outside, Authorization="Bearer scrape-token").status_code == 200
    assert scrape(server).status_code == 200, "loopback itself"

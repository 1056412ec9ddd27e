"""Accepted messages are kept until answered: over an organization's quota, when the job queue
loses their job, when the provider refuses the reply. On a real loopback server, signed as Meta
and Twilio sign, against local servers that speak the Graph API and Twilio's Messages API.

The quota's window is shortened to 2 s (``quota_message_window_seconds``) so a test can wait it
out; the service's clock is the test's, moved past each wait, while the quota counts real time.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from xml.etree import ElementTree

import pytest
import requests
from click.testing import CliRunner
from sqlmodel import select

from imaradesk.bot.background_turns import REQUEUE_AFTER, RETRY_FIRST
from imaradesk.channels.meta import CONVERSATION_CHANNEL
from imaradesk.cli import _Context, main
from imaradesk.storage.db import Database
from imaradesk.storage.models import PendingTurn
from imaradesk.storage.repositories import OrgData
from tests.channels.test_meta_cloud_api import (
    ACCESS_TOKEN,
    APP_SECRET,
    PHONE_NUMBER_ID,
    VERIFY_TOKEN,
    signed,
)
from tests.fakes.graph_api import FakeGraphApi
from tests.fakes.twilio_api import FakeTwilioApi
from tests.helpers import TWILIO_ACCOUNT_SID, post_signed, seed_org, twilio_form

WINDOW = 2  # seconds: the quota's window in these tests
QUESTIONS = ("How do I check my balance?", "Nawezaje kuangalia salio langu?")
BALANCE = "*483*1#"


@pytest.fixture
def graph() -> Iterator[FakeGraphApi]:
    fake = FakeGraphApi(PHONE_NUMBER_ID, ACCESS_TOKEN).start()
    yield fake
    fake.stop()


@pytest.fixture
def twilio() -> Iterator[FakeTwilioApi]:
    fake = FakeTwilioApi(TWILIO_ACCOUNT_SID, "test-auth-token").start()
    yield fake
    fake.stop()


def meta_org(services, *, quota: int | None = None):
    org = seed_org(services, "acme")
    return services.organizations.update(
        org.id,
        meta_phone_number_id=PHONE_NUMBER_ID,
        meta_app_secret=APP_SECRET,
        meta_access_token=ACCESS_TOKEN,
        meta_verify_token=VERIFY_TOKEN,
        quota_messages_per_minute=quota,
    )


def notification(n: int, text: str) -> bytes:
    user = f"KE.{700000000000 + n}"
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_NUMBER_ID},
        "contacts": [{"profile": {"name": f"Customer {n}"}, "user_id": user}],
        "messages": [
            {
                "from_user_id": user,
                "id": f"wamid.PENDING{n:012d}AAAA",
                "timestamp": "1764662400",
                "type": "text",
                "text": {"body": text},
            }
        ],
    }
    entry = {"id": "102290129340398", "changes": [{"field": "messages", "value": value}]}
    return json.dumps({"object": "whatsapp_business_account", "entry": [entry]}).encode()


def deliver(server, body: bytes) -> requests.Response:
    return requests.post(
        f"{server.url}/channels/meta/acme/webhook", data=body, headers=signed(body), timeout=10
    )


def answers_by_customer(graph: FakeGraphApi) -> Counter[str]:
    """How many answers each customer received: every message sent to them but the privacy
    notice a new contact gets first (in English or in Swahili, so the count is of messages)."""
    sent = Counter(m.get("recipient") or m.get("to") for m in graph.received)
    return Counter({customer: count - 1 for customer, count in sent.items() if count > 1})


def pending_rows(services, org_id: int) -> list[PendingTurn]:
    with services.database.read() as session:
        return list(session.exec(select(PendingTurn).where(PendingTurn.org_id == org_id)).all())


def wait_out_the_window(services) -> None:
    time.sleep(WINDOW + 0.2)
    services.clock.advance(timedelta(seconds=WINDOW + 1))


def test_messages_over_the_quota_are_kept_and_answered_when_it_allows_each_once(
    make_services, live_server_factory, database: Database, graph
) -> None:
    """Eight customers write (English and Swahili) to an organization allowed two messages per
    window: every webhook is acknowledged, the first two are answered at once, the rest are
    kept (not answered yet) and answered as the quota allows, each exactly once."""
    services = make_services(
        database, meta_graph_base_url=graph.url, quota_message_window_seconds=WINDOW
    )
    org = meta_org(services, quota=2)
    server = live_server_factory(services)
    for n in range(8):
        response = deliver(server, notification(n, QUESTIONS[n % 2]))
        assert response.status_code == 200, response.text
    services.jobs.wait(timeout=30)
    answered_at_once = answers_by_customer(graph)
    held = [row for row in pending_rows(services, org.id) if row.queued_at is None]
    assert 2 <= sum(answered_at_once.values()) < 8 and len(held) == 8 - len(answered_at_once), (
        "the quota's two were answered; the others wait, kept in the database"
    )
    assert all(count == 1 for count in answered_at_once.values())

    before = sum(answered_at_once.values())
    for _ in range(8):
        if not pending_rows(services, org.id):
            break
        wait_out_the_window(services)
        services.background_turns.resume()
        services.jobs.wait(timeout=30)
        now = sum(answers_by_customer(graph).values())
        assert now - before <= 2, "never more than the quota per window"
        before = now
    answered = answers_by_customer(graph)
    assert sorted(answered) == sorted(f"KE.{700000000000 + n}" for n in range(8))
    assert set(answered.values()) == {1}, "each customer answered exactly once"
    assert pending_rows(services, org.id) == [], "nothing left waiting"


def test_a_retry_of_a_waiting_message_adds_nothing(
    make_services, live_server_factory, database: Database, graph
) -> None:
    """Meta redelivers a kept (over-quota) message before it is answered: one row, one answer."""
    services = make_services(
        database, meta_graph_base_url=graph.url, quota_message_window_seconds=WINDOW
    )
    org = meta_org(services, quota=1)
    server = live_server_factory(services)
    deliver(server, notification(1, QUESTIONS[0]))
    for _ in range(3):
        assert deliver(server, notification(2, QUESTIONS[1])).status_code == 200
    services.jobs.wait(timeout=30)
    assert len(pending_rows(services, org.id)) == 1
    wait_out_the_window(services)
    services.background_turns.resume()
    services.jobs.wait(timeout=30)
    assert answers_by_customer(graph) == Counter({"KE.700000000001": 1, "KE.700000000002": 1})


def test_over_the_quota_a_twilio_message_is_acknowledged_and_answered_later_by_rest(
    make_services, live_server_factory, database: Database, twilio
) -> None:
    services = make_services(
        database, twilio_api_base_url=twilio.url, quota_message_window_seconds=WINDOW
    )
    org = seed_org(services, "acme")
    services.organizations.update(
        org.id,
        twilio_account_sid=TWILIO_ACCOUNT_SID,
        whatsapp_sender="whatsapp:+14155238886",
        quota_messages_per_minute=1,
    )
    server = live_server_factory(services)
    url = f"{server.url}/channels/twilio/acme/messages"
    first = post_signed(url, twilio_form(body=QUESTIONS[0], sender="whatsapp:+254711000001"))
    assert BALANCE in first.text, "within the quota: answered in the webhook's TwiML"
    second = post_signed(url, twilio_form(body=QUESTIONS[1], sender="whatsapp:+254711000002"))
    assert second.status_code == 200
    assert ElementTree.fromstring(second.text).findall("Message") == [], "kept, not refused"
    services.jobs.wait(timeout=30)
    assert twilio.received == []

    wait_out_the_window(services)
    services.background_turns.resume()
    services.jobs.wait(timeout=30)
    assert Counter(m["To"] for m in twilio.received) == {"whatsapp:+254711000002": 2}, (
        "the Swahili notice and the answer, once, through the Messages API"
    )


def test_without_a_way_to_answer_later_a_message_over_the_quota_is_answered_now(
    make_services, live_server_factory, database: Database
) -> None:
    """An organization that can only answer inside the webhook (no Twilio account for the
    REST API) is answered over its quota rather than left unanswered."""
    services = make_services(database, quota_message_window_seconds=WINDOW)
    org = seed_org(services, "acme")
    services.organizations.update(org.id, quota_messages_per_minute=1)
    server = live_server_factory(services)
    url = f"{server.url}/channels/twilio/acme/messages"
    for n, question in enumerate(QUESTIONS):
        answered = post_signed(url, twilio_form(body=question, sender=f"whatsapp:+25471100{n}"))
        assert ElementTree.fromstring(answered.text).findall("Message"), "answered in the TwiML"
    assert pending_rows(services, org.id) == []


def test_web_chat_over_the_quotas_is_asked_to_retry(
    make_services, live_server_factory, database: Database
) -> None:
    services = make_services(database, quota_message_window_seconds=WINDOW, rate_limits=False)
    org = seed_org(services, "acme")
    services.organizations.update(org.id, quota_messages_per_minute=1, quota_visitors_per_hour=2)
    server = live_server_factory(services)
    visitors = f"{server.url}/channels/webchat/acme/visitors"
    tokens = [requests.post(visitors, timeout=10) for _ in range(3)]
    assert [t.status_code for t in tokens] == [201, 201, 429], "two new visitors an hour"
    assert int(tokens[2].headers["Retry-After"]) > 0

    messages = f"{server.url}/channels/webchat/acme/messages"
    headers = {"Authorization": f"Bearer {tokens[0].json()['token']}"}
    sent = [
        requests.post(messages, json={"text": q}, headers=headers, timeout=10) for q in QUESTIONS
    ]
    assert sent[0].status_code == 200 and BALANCE in sent[0].text
    assert sent[1].status_code == 429 and 1 <= int(sent[1].headers["Retry-After"]) <= WINDOW
    assert "quota" in sent[1].json()["message"]


@pytest.mark.postgres
@pytest.mark.redis
def test_a_turn_whose_job_redis_lost_is_queued_again_and_answered_once(
    make_services, live_server_factory, postgres_database: Database, redis_url: str, graph
) -> None:
    """The job of an accepted message vanishes with Redis's memory (a restart without
    persistence): the pending row brings it back, and one answer goes out."""
    services = make_services(
        postgres_database, redis_url=redis_url, job_queue="redis", meta_graph_base_url=graph.url
    )
    services.redis.flushdb()
    meta_org(services)
    server = live_server_factory(services)
    assert deliver(server, notification(5, QUESTIONS[1])).status_code == 200
    services.redis.flushdb()  # Redis restarts and remembers nothing

    worker = ["worker", "--jobs", "--burst"]
    CliRunner().invoke(main, worker, obj=_Context(services), catch_exceptions=False)
    assert answers_by_customer(graph) == Counter(), "no job: nothing was answered"

    assert services.background_turns.resume() == 0, "too soon: its job may still be on its way"
    services.clock.advance(REQUEUE_AFTER + timedelta(seconds=1))
    assert services.background_turns.resume() == 1
    CliRunner().invoke(main, worker, obj=_Context(services), catch_exceptions=False)
    assert answers_by_customer(graph) == Counter({"KE.700000000005": 1})
    services.clock.advance(REQUEUE_AFTER + timedelta(seconds=1))
    assert services.background_turns.resume() == 0, "answered: nothing left to queue"


def test_a_message_accepted_while_the_queue_is_down_waits_in_the_database(
    make_services, live_server_factory, database: Database, graph, monkeypatch
) -> None:
    """Queueing fails (Redis away): the webhook still acknowledges, and the sweep answers."""
    services = make_services(database, meta_graph_base_url=graph.url)
    meta_org(services)
    server = live_server_factory(services)

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise ConnectionError("the queue is away")

    with monkeypatch.context() as patched:
        patched.setattr(services.jobs, "enqueue", refuse)
        assert deliver(server, notification(6, QUESTIONS[0])).status_code == 200
    services.jobs.wait(timeout=30)
    assert answers_by_customer(graph) == Counter()
    services.clock.advance(REQUEUE_AFTER + timedelta(seconds=1))
    assert services.background_turns.resume() == 1
    services.jobs.wait(timeout=30)
    assert answers_by_customer(graph) == Counter({"KE.700000000006": 1})


def test_replies_the_provider_refused_are_sent_again_later_once(
    make_services, live_server_factory, database: Database, graph
) -> None:
    """The Graph API answers 500 to every try of a turn's sends: the turn stays pending and
    its replies go out when the provider is back, once."""
    services = make_services(database, meta_graph_base_url=graph.url)
    org = meta_org(services)
    server = live_server_factory(services)
    graph.errors.extend([(500, 1)] * 6)  # every try of the notice and of the answer
    assert deliver(server, notification(7, QUESTIONS[0])).status_code == 200
    services.jobs.wait(timeout=60)
    assert answers_by_customer(graph) == Counter()
    (row,) = pending_rows(services, org.id)
    assert row.not_before > services.clock.now(), "postponed, not forgotten"

    graph.errors.clear()
    services.clock.advance(RETRY_FIRST + timedelta(seconds=1))
    assert services.background_turns.resume() == 1
    services.jobs.wait(timeout=30)
    assert answers_by_customer(graph) == Counter({"KE.700000000007": 1})
    assert pending_rows(services, org.id) == []


def test_erasing_a_customer_removes_their_waiting_messages(
    make_services, live_server_factory, database: Database, graph
) -> None:
    services = make_services(
        database, meta_graph_base_url=graph.url, quota_message_window_seconds=WINDOW
    )
    org = meta_org(services, quota=1)
    server = live_server_factory(services)
    deliver(server, notification(8, QUESTIONS[0]))
    deliver(server, notification(8, "Na salio la akiba?").replace(b"PENDING", b"PENDINX"))
    services.jobs.wait(timeout=30)
    assert len(pending_rows(services, org.id)) == 1
    with services.database.read() as session:
        contact = OrgData(session, org.id).find_contact(CONVERSATION_CHANNEL, "KE.700000000008")
    assert contact is not None
    services.privacy.erase(org, contact.id, request_id=None, actor="agent:test")
    assert pending_rows(services, org.id) == [], "the kept message went with its sender"
    wait_out_the_window(services)
    assert services.background_turns.resume() == 0


def test_uploads_beyond_the_storage_quota_are_refused(
    make_services, live_server_factory, database: Database
) -> None:
    services = make_services(database)
    org = seed_org(services, "acme", faq_csv=None)
    services.organizations.update(org.id, quota_storage_mb=1)
    server = live_server_factory(services)
    token = services.api_tokens.issue(org.id, "ci").secret
    headers = {"Authorization": f"Bearer {token}"}
    row = "How do I pay?,Pay at any agent with your phone number and PIN.\n"
    small = ("question,answer\n" + row).encode()
    large = ("question,answer\n" + row * 18_000).encode()  # about 1.2 MB

    refused = requests.post(
        f"{server.url}/api/v1/documents",
        files={"file": ("big.csv", large, "text/csv")},
        headers=headers,
        timeout=30,
    )
    assert refused.status_code == 413
    assert refused.json()["error"] == "storage_quota_exceeded"
    assert services.ingestion.documents(org.id) == [], "nothing kept of it"
    accepted = requests.post(
        f"{server.url}/api/v1/documents",
        files={"file": ("faq.csv", small, "text/csv")},
        headers=headers,
        timeout=30,
    )
    assert accepted.status_code == 202
    services.jobs.wait(timeout=60)  # its reading ends before the database is cleaned


def test_org_set_gives_an_organization_its_own_quotas_and_zero_restores_the_default(
    make_services, sqlite_database: Database
) -> None:
    services = make_services(sqlite_database)
    org = seed_org(services, "acme")
    run = CliRunner().invoke(
        main,
        ["org", "set", "acme", "--quota-messages", "120", "--quota-storage-mb", "50"],
        obj=_Context(services),
    )
    assert run.exit_code == 0, run.output
    changed = services.organizations.get(org.id)
    assert (changed.quota_messages_per_minute, changed.quota_storage_mb) == (120, 50)
    assert services.quotas.message_limit(changed).amount == 120
    CliRunner().invoke(
        main, ["org", "set", "acme", "--quota-messages", "0"], obj=_Context(services)
    )
    restored = services.organizations.get(org.id)
    assert restored.quota_messages_per_minute is None
    assert services.quotas.message_limit(restored).amount == 3000

"""When an LLM writes an organization's answers, the Twilio webhook acknowledges at once and a
worker answers through Twilio's REST API: in a thread of the web process by default, and in an
``imaradesk worker --jobs`` fed by RQ on real Redis."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from imaradesk.cli import _Context, main
from imaradesk.storage.db import Database
from tests.fakes.llm_servers import Answer, Fail, FakeGemini, Sleep
from tests.fakes.twilio_api import FakeTwilioApi
from tests.helpers import TWILIO_ACCOUNT_SID, post_signed, seed_org, twilio_form

ACCOUNT_SID = TWILIO_ACCOUNT_SID  # the account twilio_form signs for
SENDER = "whatsapp:+14155238886"
CUSTOMER = "whatsapp:+254711000222"
GENERATED = "You can dial *483*1# to see your balance [1]."


@pytest.fixture
def twilio() -> Iterator[FakeTwilioApi]:
    fake = FakeTwilioApi(ACCOUNT_SID, "test-auth-token").start()
    yield fake
    fake.stop()


@pytest.fixture
def gemini() -> Iterator[FakeGemini]:
    with FakeGemini(api_key="AIza-org-key-77") as server:
        yield server


def _generating_org(services, gemini: FakeGemini):
    org = seed_org(services, "acme")
    return services.organizations.update(
        org.id,
        twilio_account_sid=ACCOUNT_SID,
        whatsapp_sender=SENDER,
        external_ai_allowed=True,
        generative_answers=True,
        ai_provider="gemini",
        ai_model="gemini-2.5-flash",
        ai_api_key=gemini.api_key,
        ai_base_url=gemini.base_url,
    )


def _wait_for(twilio: FakeTwilioApi, count: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while len(twilio.received) < count and time.monotonic() < deadline:
        time.sleep(0.05)


def test_webhook_acknowledges_at_once_and_the_reply_goes_out_by_rest(
    make_services, live_server_factory, sqlite_database: Database, twilio, gemini
) -> None:
    """The model takes 4 s; the webhook answers empty TwiML before that (it keeps the message and
    queues its turn), and the generated answer reaches the customer through the Messages API."""
    services = make_services(sqlite_database, twilio_api_base_url=twilio.url)
    _generating_org(services, gemini)
    gemini.then(Sleep(4.0, then=Answer(GENERATED)))
    server = live_server_factory(services)
    started = time.monotonic()
    response = post_signed(
        f"{server.url}/channels/twilio/acme/messages",
        twilio_form(body="How do I check my balance?", sender=CUSTOMER),
    )
    acknowledged = time.monotonic() - started
    assert response.status_code == 200 and "<Message" not in response.text
    assert acknowledged < 4.0, "the webhook did not wait for the model"
    services.jobs.wait(timeout=30)
    notice, sent = twilio.received  # the first message of a contact carries the privacy notice
    assert "Reply STOP" in notice["Body"]
    assert sent["To"] == CUSTOMER and sent["From"] == SENDER
    assert sent["Body"].startswith("You can dial *483*1# to see your balance.")


def test_a_retried_webhook_is_answered_once(
    make_services, live_server_factory, sqlite_database: Database, twilio, gemini
) -> None:
    services = make_services(sqlite_database, twilio_api_base_url=twilio.url)
    _generating_org(services, gemini)
    gemini.always(Answer(GENERATED))
    server = live_server_factory(services)
    form = twilio_form(body="How do I check my balance?", sender=CUSTOMER)
    for _ in range(2):  # Twilio retries with the same MessageSid
        post_signed(f"{server.url}/channels/twilio/acme/messages", form)
    services.jobs.wait(timeout=30)
    bodies = [m["Body"] for m in twilio.received]
    assert len(bodies) == 2 and "Reply STOP" in bodies[0] and "*483*1#" in bodies[1]


def test_rq_worker_runs_the_turn_and_redis_never_holds_the_text(
    make_services, live_server_factory, postgres_database: Database, redis_url: str, twilio, gemini
) -> None:
    """With IMARADESK_JOB_QUEUE=redis the web process only queues; `imaradesk worker --jobs
    --burst` (a real RQ worker) answers. The queued job is sealed: no message text in Redis."""
    services = make_services(
        postgres_database, redis_url=redis_url, job_queue="redis", twilio_api_base_url=twilio.url
    )
    services.redis.flushdb()
    _generating_org(services, gemini)
    gemini.always(Answer(GENERATED))
    server = live_server_factory(services)
    response = post_signed(
        f"{server.url}/channels/twilio/acme/messages",
        twilio_form(body="How do I check my balance? My number is 0722 123 456", sender=CUSTOMER),
    )
    assert response.status_code == 200 and "<Message" not in response.text
    stored = b"".join(str(services.redis.dump(key)).encode() for key in services.redis.keys("rq:*"))
    assert b"0722" not in stored and b"balance" not in stored
    assert twilio.received == [], "nothing is sent until a worker runs"

    result = CliRunner().invoke(
        main, ["worker", "--jobs", "--burst"], obj=_Context(services), catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    _wait_for(twilio, 2)
    _, sent = twilio.received
    assert sent["To"] == CUSTOMER and "*483*1#" in sent["Body"]


def test_worker_jobs_refuses_without_redis(make_services, sqlite_database: Database) -> None:
    services = make_services(sqlite_database)
    result = CliRunner().invoke(main, ["worker", "--jobs", "--burst"], obj=_Context(services))
    assert result.exit_code != 0 and "IMARADESK_JOB_QUEUE=redis" in result.output


def test_a_long_generated_answer_is_sent_in_parts_under_twilios_limit(
    make_services, live_server_factory, sqlite_database: Database, twilio, gemini
) -> None:
    """Replies sent by the worker obey the 1,600-character limit like TwiML replies do."""
    services = make_services(sqlite_database, twilio_api_base_url=twilio.url)
    org = _generating_org(services, gemini)
    long_answer = "Dial *483*1# to see your balance. " * 80  # about 2,700 characters
    with services.database.write() as session:
        from imaradesk.storage.repositories import OrgData

        [entry] = [e for e in OrgData(session, org.id).entries() if e.external_id == "balance"]
        entry.answer = long_answer.strip()
        session.add(entry)
    services.knowledge.refresh(org.id)
    gemini.always(Fail(500, "down"))  # the extractive (long) answer goes out
    server = live_server_factory(services)
    post_signed(
        f"{server.url}/channels/twilio/acme/messages",
        twilio_form(body="How do I check my balance?", sender=CUSTOMER),
    )
    services.jobs.wait(timeout=30)
    parts = [m["Body"] for m in twilio.received[1:]]  # after the privacy notice
    assert len(parts) == 2 and all(len(p) <= 1600 for p in parts)
    assert "".join(parts).replace(" ", "") == long_answer.replace(" ", "")

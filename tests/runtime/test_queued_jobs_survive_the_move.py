"""Jobs that the previous release queued in Redis still run after the task entry point moved.

The previous release queued RQ jobs naming ``imaradesk.worker_tasks.run_task``; this one names
``imaradesk.services.run_task`` and keeps the old path as a shim for one release. The test
queues a real customer turn on real Redis, rewrites it as the old release would have queued it,
and lets a real RQ worker (``imaradesk worker --jobs --burst``) run it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from rq import Queue
from rq.job import Job

from imaradesk.cli import _Context, main
from imaradesk.runtime.jobs import RQ_ENTRY_POINT, RQ_TURNS_QUEUE_NAME
from imaradesk.storage.db import Database
from tests.fakes.llm_servers import Answer, FakeGemini
from tests.fakes.twilio_api import FakeTwilioApi
from tests.helpers import TWILIO_ACCOUNT_SID, post_signed, seed_org, twilio_form

ACCOUNT_SID = TWILIO_ACCOUNT_SID  # the account twilio_form signs for
CUSTOMER = "whatsapp:+254711000333"
OLD_ENTRY_POINT = "imaradesk.worker_tasks.run_task"


@pytest.fixture
def twilio() -> Iterator[FakeTwilioApi]:
    fake = FakeTwilioApi(ACCOUNT_SID, "test-auth-token").start()
    yield fake
    fake.stop()


def test_a_turn_queued_under_the_old_task_path_is_answered(
    make_services, live_server_factory, postgres_database: Database, redis_url: str, twilio
) -> None:
    services = make_services(
        postgres_database, redis_url=redis_url, job_queue="redis", twilio_api_base_url=twilio.url
    )
    services.redis.flushdb()
    with FakeGemini(api_key="AIza-old-path") as gemini:
        org = seed_org(services, "acme")
        services.organizations.update(
            org.id,
            twilio_account_sid=ACCOUNT_SID,
            whatsapp_sender="whatsapp:+14155238886",
            external_ai_allowed=True,
            generative_answers=True,
            ai_provider="gemini",
            ai_model="gemini-2.5-flash",
            ai_api_key=gemini.api_key,
            ai_base_url=gemini.base_url,
        )
        gemini.always(Answer("Dial *483*1# to see your balance [1]."))
        server = live_server_factory(services)
        response = post_signed(
            f"{server.url}/channels/twilio/acme/messages",
            twilio_form(body="How do I check my balance?", sender=CUSTOMER),
        )
        assert response.status_code == 200

        turns = Queue(RQ_TURNS_QUEUE_NAME, connection=services.redis)
        [queued] = [Job.fetch(i, connection=services.redis) for i in turns.job_ids]
        assert queued.func_name == RQ_ENTRY_POINT
        # As the previous release queued it: same arguments, the old entry point.
        turns.remove(queued)
        old = turns.enqueue(OLD_ENTRY_POINT, *queued.args, result_ttl=0, failure_ttl=86400)
        assert turns.job_ids == [old.id]

        result = CliRunner().invoke(
            main, ["worker", "--jobs", "--burst"], obj=_Context(services), catch_exceptions=False
        )
        assert result.exit_code == 0, result.output
        deadline = time.monotonic() + 30
        while len(twilio.received) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    bodies = [m["Body"] for m in twilio.received]
    assert len(bodies) == 2 and "*483*1#" in bodies[1], (
        "the old job ran and the customer got the answer"
    )
    assert turns.job_ids == [] and turns.failed_job_registry.count == 0

"""At-least-once, exactly-once-visible, under faults: every accepted inbound message ends
answered, none answered twice, whatever fails while turns are in flight.

One topology for the module, process by process as systemd runs it (tests.runtime.
fault_topology: two gunicorn web workers, a background worker, the sweeper; an exited process
is started again), on a private PostgreSQL and Redis (tests.runtime.private_services) that the
tests restart, and the organization's WhatsApp number on Meta's Cloud API, whose Graph API is
the fake one behind the fault proxy (tests.fakes.fault_proxy). Each scenario writes a burst
of new customers' messages, delivered like Meta does (again until answered 200: a message is
accepted once it was), hits the topology with one fault while several turns are in flight,
then waits until the topology has nothing left to do (nothing queued, no stored reply the
sweeper would still resend, no send under way) and counts what each customer was sent.

It proves, for each fault: a SIGKILLed background worker, a SIGKILLed gunicorn worker, Redis
restarted (empty: no persistence), PostgreSQL restarted, the Graph API answering 500, hanging
or losing its answers for a while, and a rolling restart of the web tier (SIGHUP), that every
accepted message got exactly the answer a new customer gets, once. Each prints its row of the
fault table (``pytest -s``): messages accepted, in flight when the fault hit, answered, lost,
duplicated, recovery time (fault end to the last answer). Meta reports each sent message's
status to the webhook, as the real one does: a send whose answer was lost, or whose worker died
before recording it, is known sent from its report and not sent again.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field

import pytest
import redis

from imaradesk.bot.dialogue import conversation_lock_name
from imaradesk.channels.meta import CONVERSATION_CHANNEL
from imaradesk.delivery.outbound import SEND_CLAIM
from imaradesk.settings import Settings
from imaradesk.storage.locks import RedisLockManager
from tests.fakes.fault_proxy import Fault, FaultProxy
from tests.fakes.graph_api import FakeGraphApi
from tests.runtime.fault_topology import (
    ACCESS_TOKEN,
    APP_SECRET,
    FAQ,
    PHONE_NUMBER_ID,
    SLUG,
    Answers,
    Backlog,
    HeldDeliveries,
    MetaCustomers,
    Outcome,
    Topology,
    bsuid,
    connect_organization,
    settle,
    tally,
    unanswered,
    wait_until,
    wamid,
)
from tests.runtime.private_services import PrivatePostgres, PrivateRedis
from tests.runtime.served import free_port

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

MESSAGES = 40
# Long enough after a fault for every recovery the code has: a claim of a dead sender is
# taken over after SEND_CLAIM, by a sweep (every 5 s) that resends it.
SETTLE_CAP = SEND_CLAIM.total_seconds() + 45


class NotExactlyOnce(AssertionError):
    """An accepted message went unanswered or was answered twice (what the xfails expect:
    any other failure is the harness's, and fails them)."""


@dataclass
class Stack:
    postgres: PrivatePostgres
    redis: PrivateRedis
    graph: FakeGraphApi
    proxy: FaultProxy
    topology: Topology
    answers: Answers
    backlog: Backlog
    customers: MetaCustomers
    org_id: int
    expected: Counter[str] = field(default_factory=Counter)
    _numbers: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def new_customers(self, count: int) -> range:
        first = next(self._numbers)
        for _ in range(count - 1):
            next(self._numbers)
        return range(first, first + count)

    def in_flight(self, customers: range) -> tuple[int, int]:
        """(accepted, of which not answered yet) among ``customers``."""
        deliveries = [
            self.customers.deliveries[c] for c in customers if c in self.customers.deliveries
        ]
        accepted = sum(1 for d in deliveries if d.accepted_at is not None)
        return accepted, unanswered(deliveries, self.answers, self.expected)

    def settle(self, *, after: float) -> str | None:
        return settle(
            self.answers,
            self.backlog,
            busy=lambda: self.proxy.active > 0,
            not_before=after,
            cap=after + SETTLE_CAP,
        )


@pytest.fixture(scope="module")
def stack(
    private_postgres: PrivatePostgres,
    private_redis: PrivateRedis,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("faults")
    graph = FakeGraphApi(phone_number_id=PHONE_NUMBER_ID, access_token=ACCESS_TOKEN).start()
    assert graph._server is not None
    proxy = FaultProxy(("127.0.0.1", graph._server.server_port)).start()
    env = {
        **os.environ,
        "DATABASE_URL": private_postgres.url,
        "REDIS_URL": private_redis.url,
        "IMARADESK_JOB_QUEUE": "redis",
        "IMARADESK_DATA_DIR": str(tmp / "data"),
        "IMARADESK_META_GRAPH_BASE_URL": proxy.url,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    org_id = connect_organization(
        Settings(DATABASE_URL=private_postgres.url, data_dir=tmp / "data")
    )
    topology = Topology(env, tmp / "logs", port=free_port())
    # Meta reports each sent message's status to the webhook, as the real one does (straight to
    # the web tier, not through the proxy that stands between us and the Graph API).
    graph.status_webhook = f"{topology.base}/channels/meta/{SLUG}/webhook"
    graph.app_secret = APP_SECRET
    faq = tmp / "faq.csv"
    faq.write_text(FAQ)
    backlog = Backlog(redis_url=private_redis.url, database_url=private_postgres.url)
    answers = Answers(graph)
    customers = MetaCustomers(topology.base)
    try:
        topology.start()
        # The import is read by the background worker: it runs while the others start.
        imported = subprocess.run(
            [sys.executable, "-m", "imaradesk.cli", "kb", "import", "--org", SLUG,
             "--timeout", "240", str(faq)],
            env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert imported.returncode == 0, imported.stdout + imported.stderr + topology.tails()
        topology.wait_until_ready(private_redis.url)
        yield Stack(
            private_postgres, private_redis, graph, proxy, topology, answers, backlog, customers,
            org_id,
        )  # fmt: skip
    finally:
        customers.close()
        topology.stop()
        answers.close()
        backlog.close()
        proxy.stop()
        graph.stop()
    print("\n" + "\n".join([Outcome.HEADER, *stack_table]))


# Rows of every scenario of the module, printed again together at its end.
stack_table: list[str] = []


@pytest.fixture
def ready(stack: Stack) -> Stack:
    """The topology at rest, with no fault, answering: a new customer's message answered
    (which also says what a new customer is sent) before the scenario starts."""
    stack.proxy.fault = Fault.PASS
    stack.proxy.latency = 0.0
    stack.proxy.fail_next(0)
    stack.graph.send_delay = 0.0
    left = stack.settle(after=time.monotonic())
    assert left is None, f"the previous scenario left work behind: {left}"
    (canary,) = stack.new_customers(1)
    delivery = stack.customers.deliver(canary)
    assert delivery.accepted_at is not None, delivery
    # A background worker started again loads its model first.
    answered = wait_until(
        lambda: (
            len(stack.answers.sent().get(bsuid(canary), ())) >= 2
            and time.monotonic() - stack.answers.last_change > 1
        ),
        timeout=180,
    )
    assert answered, stack.topology.tails()
    stack.expected = stack.answers.sent()[bsuid(canary)]
    # A privacy notice and the answer, once each.
    assert sorted(stack.expected.values()) == [1, 1], stack.expected
    assert "Dial *483*1# to see your balance." in stack.expected
    return stack


@dataclass
class Hit:
    """What a fault is handed: ``held``, customers whose deliveries it holds mid-request
    (``HeldDeliveries``) if it wants; ``hit()`` says the fault hits now."""

    held: range
    hit: Callable[[], None]


def run_scenario(
    stack: Stack,
    fault: str,
    inject: Callable[[Hit], None],
    *,
    customers: range | None = None,
    per_second: float = 10.0,
    send_delay: float = 0.1,
    hit_after: int = 10,
    held: int = 0,
) -> Outcome:
    """A burst of new customers (but the last ``held``, for the fault to deliver); once
    ``hit_after`` of them were accepted, ``inject`` the fault: it calls ``hit()`` the moment
    the fault hits, and returns when it is over. Then wait until nothing is left to do, and
    count."""
    stack.graph.send_delay = send_delay  # turns slower than arrivals: a backlog to hit
    customers = customers or stack.new_customers(MESSAGES)
    stack.customers.burst(customers[: len(customers) - held], per_second=per_second)
    assert wait_until(lambda: stack.in_flight(customers)[0] >= hit_after, timeout=60)
    at_hit: list[tuple[int, int]] = []
    inject(
        Hit(customers[len(customers) - held :], lambda: at_hit.append(stack.in_flight(customers)))
    )
    fault_ended = time.monotonic()
    assert len(at_hit) == 1, "the fault never said when it hit"
    accepted, in_flight = at_hit[0]
    deliveries = stack.customers.wait(customers)
    left = stack.settle(after=fault_ended)
    outcome = tally(
        fault,
        deliveries,
        stack.answers,
        expected=stack.expected,
        in_flight=in_flight,
        fault_ended=fault_ended,
    )
    row = outcome.row() + (f" (still pending: {left})" if left else "")
    stack_table.append(row)
    print(f"\n{Outcome.HEADER}\n{row}\n" + "\n".join(outcome.examples))
    # The fault has to hit turns in flight, or the scenario proves nothing.
    assert in_flight >= 3, f"only {in_flight} of {accepted} accepted were in flight"
    return outcome


def assert_exactly_once(outcome: Outcome) -> None:
    if outcome.accepted != MESSAGES:
        raise NotExactlyOnce(f"only {outcome.accepted} of {MESSAGES} accepted: {outcome.row()}")
    if (outcome.answered, outcome.lost, outcome.duplicated) != (MESSAGES, 0, 0):
        raise NotExactlyOnce("\n".join([outcome.row(), *outcome.examples]))


# -- the scenarios ---------------------------------------------------------------------------


@pytest.mark.timeout(420)
def test_a_background_worker_killed_mid_send(ready: Stack) -> None:
    def kill_mid_send(hit: Hit) -> None:
        # A reply is being sent: the Graph API holds it for send_delay (read receipts are
        # answered at once, so a connection open this long is a message).
        assert wait_until(lambda: _open_for(ready.proxy, 0.1), timeout=30, every=0.01)
        hit.hit()
        _kill_background_worker(ready.topology)

    outcome = run_scenario(
        ready, "background worker SIGKILL mid-send", kill_mid_send, send_delay=0.3
    )
    assert_exactly_once(outcome)


@pytest.mark.timeout(420)
def test_a_background_worker_killed_mid_turn(ready: Stack) -> None:
    customers = ready.new_customers(MESSAGES)
    # One turn is held where a turn may take seconds (an LLM writing, a busy conversation):
    # its conversation's lock is taken, so the worker waits inside DialogueManager.handle.
    held = customers[2]
    locks = RedisLockManager(redis.Redis.from_url(ready.redis.url), wait_seconds=5)
    with ExitStack() as lock:
        lock.enter_context(
            locks.hold(conversation_lock_name(ready.org_id, CONVERSATION_CHANNEL, bsuid(held)))
        )

        def kill_mid_turn(hit: Hit) -> None:
            # Read receipts go out before the turn: this one says the worker is in it.
            assert wait_until(
                lambda: any(r["message_id"] == wamid(held) for r in ready.graph.read_receipts),
                timeout=60,
            )
            time.sleep(0.5)
            hit.hit()
            _kill_background_worker(ready.topology)
            lock.close()

        outcome = run_scenario(
            ready,
            "background worker SIGKILL mid-turn",
            kill_mid_turn,
            customers=customers,
            hit_after=3,
        )
    assert_exactly_once(outcome)


def test_a_web_worker_killed_mid_burst(ready: Stack) -> None:
    topology = ready.topology

    def kill_a_web_worker(hit: Hit) -> None:
        # Some webhooks are under way in the worker that is killed: their senders see the
        # connection reset, and deliver again.
        held = HeldDeliveries(ready.customers, hit.held, port=topology.port)
        assert wait_until(
            lambda: sum(held.owners(topology.web_workers()).values()) == len(hit.held), timeout=10
        )
        victim, in_it = held.owners(topology.web_workers()).most_common(1)[0]
        assert in_it > 0
        hit.hit()
        os.kill(victim, signal.SIGKILL)
        held.finish()
        assert wait_until(
            lambda: len(topology.web_workers()) == 2 and victim not in topology.web_workers(),
            timeout=60,
        )

    outcome = run_scenario(
        ready, "gunicorn worker SIGKILL", kill_a_web_worker, per_second=20, held=4
    )
    assert_exactly_once(outcome)


def test_redis_restarted_mid_burst(ready: Stack) -> None:
    def restart_redis(hit: Hit) -> None:
        hit.hit()
        ready.redis.restart(down_for=2)

    assert_exactly_once(run_scenario(ready, "Redis restart (2 s down, empty)", restart_redis))


def test_postgres_restarted_mid_burst(ready: Stack) -> None:
    def restart_postgres(hit: Hit) -> None:
        hit.hit()
        ready.postgres.restart(down_for=3)

    assert_exactly_once(run_scenario(ready, "PostgreSQL restart (3 s down)", restart_postgres))


def test_the_graph_api_answering_500_for_a_while(ready: Stack) -> None:
    outcome = run_scenario(ready, "Graph API 500 for 4 s", _graph_fault(ready, Fault.HTTP_ERROR, 4))
    assert_exactly_once(outcome)


def test_the_graph_api_hanging_for_a_while(ready: Stack) -> None:
    outcome = run_scenario(ready, "Graph API hangs for 12 s", _graph_fault(ready, Fault.HOLD, 12))
    assert_exactly_once(outcome)


def test_the_graph_api_losing_its_answers_for_a_while(ready: Stack) -> None:
    outcome = run_scenario(
        ready, "Graph API answers lost for 12 s", _graph_fault(ready, Fault.LOSE_ANSWER, 12)
    )
    assert_exactly_once(outcome)


def test_a_rolling_restart_of_the_web_tier(ready: Stack) -> None:
    topology = ready.topology

    def rolling_restart(hit: Hit) -> None:
        old = set(topology.web_workers())
        # Webhooks under way in the old workers when they are told to stop: they finish.
        held = HeldDeliveries(ready.customers, hit.held, port=topology.port)
        assert wait_until(lambda: sum(held.owners(list(old)).values()) == len(hit.held), timeout=10)
        hit.hit()
        topology.signal("web", signal.SIGHUP)  # gunicorn: new workers, then the old ones stop
        assert wait_until(lambda: len(set(topology.web_workers()) - old) == 2, timeout=60)
        held.finish()
        assert wait_until(
            lambda: len(topology.web_workers()) == 2 and not old & set(topology.web_workers()),
            timeout=60,
        )

    outcome = run_scenario(ready, "rolling restart (SIGHUP)", rolling_restart, held=4)
    assert_exactly_once(outcome)


def _kill_background_worker(topology: Topology) -> None:
    """SIGKILL ``worker --jobs``; returns once the supervisor started it again."""
    starts = topology.processes["jobs"].starts
    os.killpg(topology.pid("jobs"), signal.SIGKILL)
    assert wait_until(lambda: topology.processes["jobs"].starts > starts, timeout=30)


def _graph_fault(stack: Stack, fault: Fault, seconds: float) -> Callable[[Hit], None]:
    def inject(hit: Hit) -> None:
        hit.hit()
        stack.proxy.fault = fault
        time.sleep(seconds)
        stack.proxy.fault = Fault.PASS

    return inject


def _open_for(proxy: FaultProxy, seconds: float) -> bool:
    if proxy.active == 0:
        return False
    time.sleep(seconds)
    return proxy.active > 0

"""The production topology process by process, its Meta customers, and what they were sent.

``imaradesk up`` runs its processes under honcho, which stops all of them when one exits: a
fault test needs them apart, as systemd runs them (``Restart=always``), so that one can be
killed and come back while the others go on. ``Topology`` starts the web tier (``serve``,
gunicorn with two workers), one background worker (``worker --jobs``) and the sweeper
(``worker --every 5``), each in its own process group, restarts any that exits, and kills
them all at the end.

The organization talks to customers through Meta's WhatsApp Cloud API: a webhook is only
acknowledged, a background turn answers through the Graph API (the fake one, behind the fault
proxy), so what each customer was sent is counted at the fake, one new customer per message
(``Answers``, ``tally``). ``MetaCustomers`` delivers like Meta, again until answered 200;
``HeldDeliveries`` keeps webhooks under way inside a web worker for a fault to hit. ``settle``
waits until the topology has nothing left that it would do on its own (``Backlog``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import redis
import requests

from imaradesk.runtime.clock import SystemClock
from imaradesk.runtime.jobs import RQ_TURNS_QUEUE_NAME
from imaradesk.services import open_database, prepare_database
from imaradesk.settings import Settings
from tests.fakes.graph_api import FakeGraphApi

SLUG = "acme"
APP_SECRET = "faults-app-secret"
ACCESS_TOKEN = "faults-access-token"
PHONE_NUMBER_ID = "106540352242922"
QUESTION = "How do I check my balance?"
FAQ = (
    "question,answer\n"
    "How do I check my balance?,Dial *483*1# to see your balance.\n"
    "How do I reset my PIN?,Dial *483*2# and follow the steps.\n"
)
# systemd's RestartSec: how long a process that exited stays down before it is started again.
RESTART_AFTER = 1.0


def connect_organization(settings: Settings) -> int:
    """Migrate the schema and connect the organization's WhatsApp number, in this process:
    the same as ``imaradesk org create`` and ``org meta`` without two interpreters' start-up.
    Returns the organization's id."""
    database = open_database(settings)
    try:
        organizations = prepare_database(database, SystemClock())
        org = organizations.create(SLUG, name="Acme")
        assert org.id is not None
        organizations.update(
            org.id,
            meta_phone_number_id=PHONE_NUMBER_ID,
            meta_app_secret=APP_SECRET,
            meta_access_token=ACCESS_TOKEN,
            meta_verify_token="faults-verify",
        )
        return org.id
    finally:
        database.dispose()


@dataclass
class Process:
    name: str
    argv: list[str]
    log: Path
    popen: subprocess.Popen[bytes] | None = None
    starts: int = 0


class Topology:
    """The web tier, one background worker and the sweeper, each restarted when it exits."""

    def __init__(self, env: dict[str, str], logs: Path, *, port: int) -> None:
        self.env = env
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        cli = [sys.executable, "-m", "imaradesk.cli", "-v"]  # -v: their INFO lines, to diagnose
        logs.mkdir(parents=True, exist_ok=True)
        self.processes = {
            name: Process(name, [*cli, *args], logs / f"{name}.log")
            for name, args in {
                "web": ["serve", "--port", str(port), "--workers", "2", "--threads", "4"],
                "jobs": ["worker", "--jobs"],
                "sweeps": ["worker", "--every", "5"],
            }.items()
        }
        self.restarts: list[tuple[float, str]] = []
        self._stopping = threading.Event()
        self._supervisor = threading.Thread(target=self._supervise, daemon=True)

    def start(self) -> None:
        for process in self.processes.values():
            self._spawn(process)
        self._supervisor.start()

    def _spawn(self, process: Process) -> None:
        with process.log.open("ab") as log:
            log.write(f"\n--- start {process.starts + 1} at {time.time():.1f}\n".encode())
            process.popen = subprocess.Popen(
                process.argv,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: killpg reaches its children
            )
        process.starts += 1

    def _supervise(self) -> None:
        while not self._stopping.wait(0.2):
            for process in self.processes.values():
                if process.popen is None or process.popen.poll() is None:
                    continue
                time.sleep(RESTART_AFTER)
                if self._stopping.is_set():
                    return
                _killpg(process.popen, signal.SIGKILL)  # its children, if any, go with it
                self.restarts.append((time.monotonic(), process.name))
                self._spawn(process)

    def pid(self, name: str) -> int:
        popen = self.processes[name].popen
        assert popen is not None
        return popen.pid

    def web_workers(self) -> list[int]:
        """The gunicorn workers: children of the ``serve`` master."""
        return children(self.pid("web"))

    def signal(self, name: str, sig: signal.Signals) -> None:
        os.kill(self.pid(name), sig)

    def wait_until_ready(self, redis_url: str, *, timeout: float = 300) -> None:
        """The web tier answers and a background worker listens for turns."""
        client = redis.Redis.from_url(redis_url)
        deadline = time.monotonic() + timeout
        while True:
            for process in self.processes.values():
                assert process.popen is not None
                if process.popen.poll() is not None and process.starts > 3:
                    raise AssertionError(
                        f"{process.name} keeps exiting:\n{self.tail(process.name)}"
                    )
            if self.healthy() and _turn_workers(client) > 0 and len(self.web_workers()) == 2:
                client.close()
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"the topology did not come up:\n{self.tails()}")
            time.sleep(0.5)

    def healthy(self) -> bool:
        try:
            return requests.get(f"{self.base}/healthz", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def tail(self, name: str, size: int = 3000) -> str:
        log = self.processes[name].log
        return log.read_text(errors="replace")[-size:] if log.exists() else ""

    def tails(self) -> str:
        return "\n".join(f"== {name}\n{self.tail(name)}" for name in self.processes)

    def stop(self) -> None:
        self._stopping.set()
        if self._supervisor.is_alive():
            self._supervisor.join(timeout=5)
        for process in self.processes.values():
            if process.popen is not None:
                _killpg(process.popen, signal.SIGTERM)
        for process in self.processes.values():
            if process.popen is None:
                continue
            try:
                process.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pass
            _killpg(process.popen, signal.SIGKILL)  # what SIGTERM left, the group's last
            process.popen.wait(timeout=10)


def _killpg(popen: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    try:
        os.killpg(popen.pid, sig)
    except ProcessLookupError:
        pass


def _turn_workers(client: redis.Redis) -> int:
    from rq import Queue, Worker

    try:
        return int(Worker.count(queue=Queue(RQ_TURNS_QUEUE_NAME, connection=client)))
    except redis.RedisError:
        return 0


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (from /proc: psutil is not installed)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # The command name, in parentheses, may hold spaces: the fields after it are fixed.
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return sorted(found)


# -- customers -------------------------------------------------------------------------------


def bsuid(n: int) -> str:
    return f"KE.{900000000000 + n}"


def wamid(n: int) -> str:
    """The id Meta gave customer ``n``'s message."""
    return f"wamid.FAULTS{n:012d}AAAA"


def notification(n: int, text: str = QUESTION) -> bytes:
    """Meta's notification of customer ``n``'s one message (a new customer each)."""
    message = {
        "from_user_id": bsuid(n),
        "id": wamid(n),
        "timestamp": str(int(time.time())),
        "type": "text",
        "text": {"body": text},
    }
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_NUMBER_ID},
        "contacts": [{"profile": {"name": f"Customer {n}"}, "user_id": bsuid(n)}],
        "messages": [message],
    }
    entry = {"id": "102290129340398", "changes": [{"field": "messages", "value": value}]}
    return json.dumps({"object": "whatsapp_business_account", "entry": [entry]}).encode()


@dataclass
class Delivery:
    """One customer's notification as Meta delivers it: again until it is answered 200."""

    customer: int
    attempts: int = 0
    refusals: Counter[str] = field(default_factory=Counter)
    accepted_at: float | None = None


class MetaCustomers:
    """New customers writing once each, delivered like Meta does: a notification answered
    anything but 200 (or not at all) is delivered again, sooner than Meta would (its first
    retries are seconds to minutes apart) so that tests stay short."""

    def __init__(self, base: str, *, concurrency: int = 8) -> None:
        self.webhook = f"{base}/channels/meta/{SLUG}/webhook"
        self.deliveries: dict[int, Delivery] = {}
        self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix="meta")
        self._lock = threading.Lock()
        self._pacers: list[threading.Thread] = []
        self._futures: list[Future[Delivery]] = []

    def deliver(self, customer: int, *, give_up_after: float = 120) -> Delivery:
        with self._lock:
            delivery = self.deliveries.setdefault(customer, Delivery(customer))
        body = notification(customer)
        deadline = time.monotonic() + give_up_after
        backoff = 0.5
        while time.monotonic() < deadline:
            delivery.attempts += 1
            try:
                response = requests.post(self.webhook, data=body, headers=signed(body), timeout=10)
                if response.status_code == 200:
                    delivery.accepted_at = time.monotonic()
                    return delivery
                delivery.refusals[str(response.status_code)] += 1
            except requests.RequestException as e:
                delivery.refusals[type(e).__name__] += 1
            time.sleep(backoff)
            backoff = min(backoff * 2, 4.0)
        return delivery

    def burst(self, customers: range, *, per_second: float) -> None:
        """Start delivering ``customers``' messages at a steady rate; returns at once."""

        def pace() -> None:
            for k, customer in enumerate(customers):
                time.sleep(max(0.0, started + k / per_second - time.monotonic()))
                self.redeliver(customer)

        started = time.monotonic()
        pacer = threading.Thread(target=pace, daemon=True)
        pacer.start()
        self._pacers.append(pacer)

    def redeliver(self, customer: int) -> None:
        """Deliver (again, if it was already tried) in the background."""
        with self._lock:
            self._futures.append(self._pool.submit(self.deliver, customer))

    def wait(self, customers: range, timeout: float = 180) -> list[Delivery]:
        """Every delivery started so far has ended; ``customers``' deliveries."""
        for pacer in self._pacers:
            pacer.join(timeout)
        with self._lock:
            futures = list(self._futures)
        for future in futures:
            future.result(timeout=timeout)
        return [self.deliveries[c] for c in customers if c in self.deliveries]

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def signed(body: bytes) -> dict[str, str]:
    digest = hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": f"sha256={digest}", "Content-Type": "application/json"}


class HeldDeliveries:
    """Deliveries whose last byte is held back: requests under way inside a web worker (its
    thread waits for the body) when the worker is killed or told to stop. ``finish`` sends
    the rest; a delivery that is not answered 200 is delivered again like any other."""

    def __init__(self, customers: MetaCustomers, numbers: range, *, port: int) -> None:
        self.customers = customers
        self.port = port
        self.held: dict[int, tuple[socket.socket, bytes]] = {}
        for n in numbers:
            body = notification(n)
            head = (
                f"POST /channels/meta/{SLUG}/webhook HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                + "".join(f"{k}: {v}\r\n" for k, v in signed(body).items())
                + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            ).encode()
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            sock.sendall(head + body[:-1])
            with customers._lock:
                customers.deliveries[n] = Delivery(n, attempts=1)
            self.held[n] = (sock, body[-1:])

    def owners(self, workers: list[int]) -> Counter[int]:
        """How many of the held requests each of ``workers`` (pids) has accepted."""
        ports = {sock.getsockname()[1] for sock, _ in self.held.values()}
        inodes = _socket_inodes(local_port=self.port, remote_ports=ports)
        owners: Counter[int] = Counter()
        for pid in workers:
            try:
                links = {
                    os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")
                }
            except OSError:
                continue
            owners[pid] = sum(1 for inode in inodes if f"socket:[{inode}]" in links)
        return owners

    def finish(self) -> None:
        for n, (sock, rest) in self.held.items():
            delivery = self.customers.deliveries[n]
            try:
                sock.sendall(rest)
                status = sock.recv(64).split(b" ")[1:2]
                if status == [b"200"]:
                    delivery.accepted_at = time.monotonic()
                    continue
                delivery.refusals[status[0].decode() if status else "closed"] += 1
            except OSError as e:
                delivery.refusals[type(e).__name__] += 1
            finally:
                sock.close()
            self.customers.redeliver(n)


def _socket_inodes(*, local_port: int, remote_ports: set[int]) -> set[str]:
    """Inodes of the server's ends of loopback TCP connections from ``remote_ports``."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, inode = fields[1], fields[2], fields[9]
        if (
            int(local.split(":")[1], 16) == local_port
            and int(remote.split(":")[1], 16) in remote_ports
        ):
            inodes.add(inode)
    return inodes


# -- what customers were sent ------------------------------------------------------------------


class Answers:
    """What the fake Graph API was sent, per customer, and when the last of it came."""

    def __init__(self, graph: FakeGraphApi) -> None:
        self.graph = graph
        self.last_change = time.monotonic()
        self._seen = 0
        self._stop = threading.Event()
        threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self) -> None:
        while not self._stop.wait(0.05):
            count = len(self.graph.received)
            if count != self._seen:
                self._seen = count
                self.last_change = time.monotonic()

    def sent(self) -> dict[str, Counter[str]]:
        """Each recipient's texts and how many times each was sent."""
        sent: dict[str, Counter[str]] = {}
        for message in list(self.graph.received):
            recipient = message.get("recipient") or message.get("to")
            kind = message.get("type")
            text = (
                message["text"]["body"]
                if kind == "text"
                else message["interactive"]["body"]["text"]
                if kind == "interactive"
                else json.dumps(message, sort_keys=True)
            )
            sent.setdefault(recipient, Counter())[text] += 1
        return sent

    def close(self) -> None:
        self._stop.set()


@dataclass
class Outcome:
    """A scenario's figures: one row of the note's fault table."""

    fault: str
    accepted: int
    in_flight: int
    answered: int
    lost: int
    duplicated: int
    recovery_seconds: float | None
    refused: Counter[str] = field(default_factory=Counter)
    # A few customers who were not sent exactly what was expected, and what they were sent.
    examples: list[str] = field(default_factory=list)

    HEADER = (
        "| fault | accepted | in flight at the fault | answered | lost | duplicated | "
        "recovery (s) | webhook refusals |"
    )

    def row(self) -> str:
        recovery = "-" if self.recovery_seconds is None else f"{self.recovery_seconds:.1f}"
        refused = ", ".join(f"{k} x{v}" for k, v in sorted(self.refused.items())) or "none"
        return (
            f"| {self.fault} | {self.accepted} | {self.in_flight} | {self.answered} | "
            f"{self.lost} | {self.duplicated} | {recovery} | {refused} |"
        )


def tally(
    fault: str,
    deliveries: list[Delivery],
    answers: Answers,
    *,
    expected: Counter[str],
    in_flight: int,
    fault_ended: float,
) -> Outcome:
    """Count against ``expected``, what one new customer is sent for the question: answered
    is all of it (at least once), lost is less (nothing, or part of it), duplicated is any
    text sent more times than expected."""
    sent = answers.sent()
    accepted = [d for d in deliveries if d.accepted_at is not None]
    answered = lost = duplicated = 0
    examples: list[str] = []
    for delivery in accepted:
        got = sent.get(bsuid(delivery.customer), Counter())
        short = any(got[text] < times for text, times in expected.items())
        extra = any(times > expected.get(text, 0) for text, times in got.items())
        lost += short
        answered += not short
        duplicated += extra
        if (short or extra) and len(examples) < 6:
            texts = {text[:40]: times for text, times in got.items()}
            examples.append(f"customer {delivery.customer}: {texts}")
    refused: Counter[str] = Counter()
    for delivery in deliveries:
        refused.update(delivery.refusals)
    recovery = max(0.0, answers.last_change - fault_ended) if accepted else None
    return Outcome(
        fault, len(accepted), in_flight, answered, lost, duplicated, recovery, refused, examples
    )


def unanswered(deliveries: list[Delivery], answers: Answers, expected: Counter[str]) -> int:
    sent = answers.sent()
    return sum(
        1
        for d in deliveries
        if d.accepted_at is not None
        and any(sent.get(bsuid(d.customer), Counter())[t] < n for t, n in expected.items())
    )


def wait_until(condition: Callable[[], bool], *, timeout: float, every: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every)
    return condition()


# -- waiting for the system to finish what it can ---------------------------------------------


class Backlog:
    """What the topology may still do on its own: turns queued in Redis (or scheduled for a
    retry not yet due), and bot replies stored but never handed to the Graph API, which the
    sweeper resends (``OutboundService.resend_unsent``) a minute after they were stored or
    ``SEND_CLAIM`` after a sender that died claimed them."""

    def __init__(self, *, redis_url: str, database_url: str) -> None:
        from imaradesk.storage.db import create_db_engine

        self._redis = redis.Redis.from_url(redis_url, socket_timeout=2)
        self._engine = create_db_engine(database_url, connect_args={"connect_timeout": 2})

    def pending(self) -> str | None:
        """Why it is not done yet, or None when nothing is left that it would do."""
        from rq import Queue
        from rq.registry import ScheduledJobRegistry

        try:
            turns = Queue(RQ_TURNS_QUEUE_NAME, connection=self._redis)
            if len(turns):
                return f"{len(turns)} turn(s) queued"
            # Retries already due and never run have no scheduler to run them: they are dead.
            scheduled = ScheduledJobRegistry(queue=turns)
            due_later = self._redis.zcount(scheduled.key, time.time(), "+inf")
            if due_later:
                return f"{due_later} turn retr(ies) scheduled"
        except redis.RedisError as e:
            return f"Redis: {type(e).__name__}"
        try:
            unsent = self.unsent_replies()
        except Exception as e:  # the database is down: it cannot be said
            return f"PostgreSQL: {type(e).__name__}"
        return f"{unsent} bot repl(ies) stored and not sent" if unsent else None

    def unsent_replies(self) -> int:
        from sqlalchemy import func, or_
        from sqlmodel import Session, col, select

        from imaradesk.storage.models import Direction, Message

        with Session(self._engine) as session:
            return int(
                session.exec(
                    select(func.count())
                    .select_from(Message)
                    .where(
                        Message.direction == Direction.OUTBOUND,
                        col(Message.reply_to_id).is_not(None),
                        col(Message.agent_id).is_(None),
                        col(Message.provider_message_id).is_(None),
                        or_(
                            col(Message.delivery_status).is_(None),
                            col(Message.delivery_status) == "sending",
                        ),
                    )
                ).one()
            )

    def close(self) -> None:
        self._redis.close()
        self._engine.dispose()


def settle(
    answers: Answers,
    backlog: Backlog,
    *,
    busy: Callable[[], bool],
    not_before: float,
    cap: float,
    quiet: float = 6.0,
) -> str | None:
    """Wait until nothing is left to happen: nothing queued or stored unsent, no request under
    way (``busy``), and no send for ``quiet`` seconds (more than a sweep). Returns what was
    still pending at ``cap``, if anything."""
    while True:
        now = time.monotonic()
        reason = backlog.pending()
        if reason is None and busy():
            reason = "a request to the Graph API under way"
        if reason is None and now - answers.last_change < quiet:
            reason = "sent something lately"
        if reason is None and now >= not_before:
            return None
        if now >= cap:
            return reason or "not long enough after the fault"
        time.sleep(0.5)

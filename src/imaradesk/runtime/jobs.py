"""Background work: a queue Protocol with an in-process default and RQ on Redis.

Tasks are named, with plain JSON-able arguments, so the same call works in a thread of the web
process (the embedded default, no Redis) and in an ``imaradesk worker`` process fed by RQ.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol

import redis

log = logging.getLogger(__name__)

TaskRunner = Callable[[str, dict[str, Any]], None]
RQ_QUEUE_NAME = "imaradesk"
# Customers' turns get their own queue, listened to first: an hour-long upload must not make
# a customer wait.
RQ_TURNS_QUEUE_NAME = "imaradesk-turns"
RQ_ENTRY_POINT = "imaradesk.services.run_task"
TURN_TIMEOUT_SECONDS = 120


class JobQueue(Protocol):
    def enqueue(self, task: str, *, job_name: str | None = None, **arguments: Any) -> None:
        """Queue ``task``; a ``job_name`` names the job so ``holds`` can find it later."""
        ...

    def holds(self, job_name: str) -> bool:
        """Whether the job named ``job_name`` still waits or runs in a live worker (False: it
        finished, failed, or was lost with a worker or with the queue's storage)."""
        ...

    def depth(self) -> int:
        """Tasks waiting or running (this process's, for the in-process queue)."""
        ...

    def workers_listening(self) -> int | None:
        """How many workers take tasks from this queue (None: this process runs them)."""
        ...


class InProcessJobQueue:
    """Runs tasks on a few threads of this process; they are lost if it stops (see resume).

    Work of one organization (an upload) runs one task at a time, and organizations take the
    threads in turn: one organization's long upload never holds back another's one-line CSV.
    """

    def __init__(self, *, workers: int = 2, turn_workers: int = 4) -> None:
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="imaradesk-job")
        self._waiting: dict[object, deque[tuple[TaskRunner, str, dict[str, Any]]]] = {}
        # Customers' turns have threads of their own: uploads, however many, never delay them.
        self._turns = ThreadPoolExecutor(
            max_workers=turn_workers, thread_name_prefix="imaradesk-turn"
        )
        self._runner: TaskRunner | None = None
        self._pending: set[Future[None]] = set()
        self._named: dict[str, int] = {}
        self._guard = threading.Lock()

    def bind(self, runner: TaskRunner) -> None:
        self._runner = runner

    def enqueue(self, task: str, *, job_name: str | None = None, **arguments: Any) -> None:
        if self._runner is None:
            raise RuntimeError("the job queue has no task runner bound")
        runner = self._runner
        if job_name is not None:
            with self._guard:
                self._named[job_name] = self._named.get(job_name, 0) + 1
            runner = self._named_runner(job_name, runner)
        if task == "turn":
            self._submit(self._turns, self._run, runner, task, arguments)
            return
        owner = arguments.get("org_id")
        with self._guard:
            queue = self._waiting.get(owner)
            running = queue is not None
            if queue is None:
                queue = self._waiting[owner] = deque()
            queue.append((runner, task, arguments))
        if not running:
            self._submit(self._executor, self._next_of, owner)

    def _named_runner(self, job_name: str, runner: TaskRunner) -> TaskRunner:
        def run(task: str, arguments: dict[str, Any]) -> None:
            try:
                runner(task, arguments)
            finally:
                with self._guard:
                    left = self._named[job_name] - 1
                    if left:
                        self._named[job_name] = left
                    else:
                        del self._named[job_name]

        return run

    def holds(self, job_name: str) -> bool:
        with self._guard:
            return job_name in self._named

    def _submit(self, executor: ThreadPoolExecutor, *call: Any) -> None:
        future = executor.submit(*call)
        with self._guard:
            self._pending.add(future)
        future.add_done_callback(self._done)

    def _next_of(self, owner: object) -> None:
        """Run the owner's next task, then queue its turn again behind the other owners'."""
        with self._guard:
            runner, task, arguments = self._waiting[owner].popleft()
        self._run(runner, task, arguments)
        with self._guard:
            more = bool(self._waiting[owner])
            if not more:
                del self._waiting[owner]
        if more:
            self._submit(self._executor, self._next_of, owner)

    def depth(self) -> int:
        with self._guard:
            return len(self._pending) + sum(len(q) for q in self._waiting.values())

    def workers_listening(self) -> int | None:
        return None

    def wait(self, timeout: float | None = None) -> None:
        """Block until every task enqueued so far has finished (tests, the CLI)."""
        while True:
            with self._guard:
                pending = list(self._pending)
            if not pending:
                return
            for future in pending:
                future.result(timeout=timeout)

    def shutdown(self) -> None:
        self._turns.shutdown(wait=True, cancel_futures=False)
        self._executor.shutdown(wait=True, cancel_futures=False)

    @staticmethod
    def _run(runner: TaskRunner, task: str, arguments: dict[str, Any]) -> None:
        try:
            runner(task, arguments)
        except Exception:  # the task records its own failure; a thread must not die silently
            log.exception("background task failed", extra={"task": task})

    def _done(self, future: Future[None]) -> None:
        with self._guard:
            self._pending.discard(future)


class RQJobQueue:
    """Hands tasks to ``imaradesk worker --jobs`` processes through RQ on Redis."""

    def __init__(self, connection: redis.Redis) -> None:
        from rq import Queue

        self._connection = connection
        self._jobs = Queue(RQ_QUEUE_NAME, connection=connection)
        self._turns = Queue(RQ_TURNS_QUEUE_NAME, connection=connection)

    def enqueue(self, task: str, *, job_name: str | None = None, **arguments: Any) -> None:
        from rq import Retry

        # Arguments are ids and sealed payloads only: RQ stores them in Redis in the clear.
        if task == "turn":
            # A turn retried after a crash is deduplicated by its provider message id. Retried
            # at once: a delayed retry would wait for a scheduler no worker here runs.
            self._turns.enqueue(
                RQ_ENTRY_POINT,
                task,
                arguments,
                job_id=job_name,
                job_timeout=TURN_TIMEOUT_SECONDS,
                result_ttl=0,
                failure_ttl=86400,
                retry=Retry(max=2),
            )
        else:
            self._jobs.enqueue(
                RQ_ENTRY_POINT,
                task,
                arguments,
                job_id=job_name,
                job_timeout=3600,
                result_ttl=0,
                failure_ttl=86400,
            )

    def holds(self, job_name: str) -> bool:
        from rq import Worker
        from rq.exceptions import NoSuchJobError
        from rq.job import Job, JobStatus

        try:
            job = Job.fetch(job_name, connection=self._connection)
        except NoSuchJobError:
            return False  # finished (results are not kept), or Redis lost it
        status = job.get_status(refresh=False)
        if status in (JobStatus.QUEUED, JobStatus.DEFERRED, JobStatus.SCHEDULED):
            return True
        if status != JobStatus.STARTED:
            return False
        worker = next(
            (w for w in Worker.all(connection=self._connection) if w.name == job.worker_name),
            None,
        )
        return worker is not None and _alive(worker.hostname, worker.pid)

    @property
    def queues(self) -> list[Any]:
        """In the order a worker should listen to them."""
        return [self._turns, self._jobs]

    def depth(self) -> int:
        return sum(len(queue) for queue in self.queues)

    def workers_listening(self) -> int | None:
        from rq import Worker

        return int(Worker.count(queue=self._jobs))


def _alive(hostname: str | None, pid: int | None) -> bool:
    """Whether a worker's process runs (known only on this machine: elsewhere, assume so; its
    registration in Redis expires when it stops beating)."""
    if pid is None or hostname != socket.gethostname():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

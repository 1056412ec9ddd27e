"""Background work: a queue Protocol with an in-process default and RQ on Redis.

Tasks are named, with plain JSON-able arguments, so the same call works in a thread of the web
process (the embedded default, no Redis) and in an ``imaradesk worker`` process fed by RQ.
"""

from __future__ import annotations

import logging
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


class JobQueue(Protocol):
    def enqueue(self, task: str, **arguments: Any) -> None: ...

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
        self._waiting: dict[object, deque[tuple[str, dict[str, Any]]]] = {}
        # Customers' turns have threads of their own: uploads, however many, never delay them.
        self._turns = ThreadPoolExecutor(
            max_workers=turn_workers, thread_name_prefix="imaradesk-turn"
        )
        self._runner: TaskRunner | None = None
        self._pending: set[Future[None]] = set()
        self._guard = threading.Lock()

    def bind(self, runner: TaskRunner) -> None:
        self._runner = runner

    def enqueue(self, task: str, **arguments: Any) -> None:
        if self._runner is None:
            raise RuntimeError("the job queue has no task runner bound")
        if task == "turn":
            self._submit(self._turns, self._run, self._runner, task, arguments)
            return
        owner = arguments.get("org_id")
        with self._guard:
            queue = self._waiting.get(owner)
            running = queue is not None
            if queue is None:
                queue = self._waiting[owner] = deque()
            queue.append((task, arguments))
        if not running:
            self._submit(self._executor, self._next_of, owner)

    def _submit(self, executor: ThreadPoolExecutor, *call: Any) -> None:
        future = executor.submit(*call)
        with self._guard:
            self._pending.add(future)
        future.add_done_callback(self._done)

    def _next_of(self, owner: object) -> None:
        """Run the owner's next task, then queue its turn again behind the other owners'."""
        assert self._runner is not None
        with self._guard:
            task, arguments = self._waiting[owner].popleft()
        self._run(self._runner, task, arguments)
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

        self._jobs = Queue(RQ_QUEUE_NAME, connection=connection)
        self._turns = Queue(RQ_TURNS_QUEUE_NAME, connection=connection)

    def enqueue(self, task: str, **arguments: Any) -> None:
        from rq import Retry

        # Arguments are ids and sealed payloads only: RQ stores them in Redis in the clear.
        if task == "turn":
            # A turn retried after a crash is deduplicated by its provider message id.
            self._turns.enqueue(
                RQ_ENTRY_POINT,
                task,
                arguments,
                job_timeout=120,
                result_ttl=0,
                failure_ttl=86400,
                retry=Retry(max=2, interval=[1, 5]),
            )
        else:
            self._jobs.enqueue(
                RQ_ENTRY_POINT, task, arguments, job_timeout=3600, result_ttl=0, failure_ttl=86400
            )

    @property
    def queues(self) -> list[Any]:
        """In the order a worker should listen to them."""
        return [self._turns, self._jobs]

    def depth(self) -> int:
        return sum(len(queue) for queue in self.queues)

    def workers_listening(self) -> int | None:
        from rq import Worker

        return int(Worker.count(queue=self._jobs))

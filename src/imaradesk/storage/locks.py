"""Per-conversation locks: two messages of one conversation are handled one at a time.

In-process locks serve the embedded single-process default; Redis locks serve several
processes or machines.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

import redis


class LockTimeout(Exception):
    """The lock could not be acquired in time."""


class LockManager(Protocol):
    def hold(self, key: str) -> AbstractContextManager[None]:
        """Hold the lock named ``key`` for the duration of a ``with`` block.

        Raises:
            LockTimeout: the lock stayed taken for longer than the manager's wait limit.
        """
        ...


class InProcessLockManager:
    """Named locks shared by the threads of one process; unused locks are forgotten."""

    def __init__(self, *, wait_seconds: float = 30.0) -> None:
        self._wait = wait_seconds
        self._guard = threading.Lock()
        self._locks: dict[str, tuple[threading.Lock, int]] = {}

    @contextmanager
    def hold(self, key: str) -> Iterator[None]:
        with self._guard:
            lock, users = self._locks.get(key, (threading.Lock(), 0))
            self._locks[key] = (lock, users + 1)
        try:
            if not lock.acquire(timeout=self._wait):
                raise LockTimeout(key)
            try:
                yield
            finally:
                lock.release()
        finally:
            with self._guard:
                lock, users = self._locks[key]
                if users == 1:
                    del self._locks[key]
                else:
                    self._locks[key] = (lock, users - 1)


class RedisLockManager:
    """Locks in Redis (redis-py's Lock: token-checked release, expiry if a holder dies)."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        prefix: str = "imaradesk:lock:",
        wait_seconds: float = 30.0,
        expire_seconds: float = 60.0,
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._wait = wait_seconds
        self._expire = expire_seconds

    @contextmanager
    def hold(self, key: str) -> Iterator[None]:
        lock = self._client.lock(
            self._prefix + key,
            timeout=self._expire,
            blocking_timeout=self._wait,
            sleep=0.01,
            thread_local=False,
        )
        if not lock.acquire():
            raise LockTimeout(key)
        try:
            yield
        finally:
            try:
                lock.release()
            except redis.exceptions.LockError:
                # It expired while held: the work took longer than the expiry, and another
                # holder may already have it. Nothing of ours left to release.
                pass

"""Long polling for pull channels: a visitor's poll waits until a person writes, within caps.

A poll that finds nothing waits, checking the store twice a second, until a message comes or
its wait is over: a person's reply reaches an open chat within half a second instead of the
next timed poll, and the check reads the database, so a reply written by any process is seen.
Each waiting poll holds a server thread, so at most ``capacity`` wait at once in a process and
none waits longer than ``max_wait``; a poll over the cap answers at once with ``waited: false``
and the client polls again after a pause.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")
CHECK_EVERY_SECONDS = 0.5


class WaitingPolls:
    def __init__(self, *, capacity: int, max_wait: float) -> None:
        self.max_wait = max_wait
        self._slots = threading.BoundedSemaphore(capacity) if capacity > 0 else None

    def collect(self, fetch: Callable[[], Sequence[T]], *, wait: float) -> tuple[Sequence[T], bool]:
        """What ``fetch`` finds, waiting up to ``wait`` seconds (capped) for something; and
        whether this poll was allowed to wait."""
        found = fetch()
        if found or wait <= 0:
            return found, wait > 0
        if self._slots is None or not self._slots.acquire(blocking=False):
            return found, False
        try:
            deadline = time.monotonic() + min(wait, self.max_wait)
            while not found and time.monotonic() < deadline:
                time.sleep(min(CHECK_EVERY_SECONDS, max(deadline - time.monotonic(), 0)))
                found = fetch()
            return found, True
        finally:
            self._slots.release()

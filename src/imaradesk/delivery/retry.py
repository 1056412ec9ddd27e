"""Retrying one send with backoff: done here once, for every channel.

Only a ``SendFailed`` that says it is retryable (a provider's 5xx or 429, an unreachable network)
is tried again, a bounded number of times, waiting longer each time. The sleep is injected so
that tests never wait.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from imaradesk.channels.base import SendFailed

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """``attempts`` tries in all; the waits between them grow by ``factor`` up to ``max_delay``.

    The defaults wait 0.2 s then 0.6 s: well inside a console request, and long enough for a
    provider's brief hiccup.
    """

    attempts: int = 3
    first_delay: float = 0.2
    factor: float = 3.0
    max_delay: float = 5.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("a send needs at least one attempt")

    def delays(self) -> tuple[float, ...]:
        """The waits before the second, third, ... attempt."""
        return tuple(
            min(self.first_delay * self.factor**i, self.max_delay) for i in range(self.attempts - 1)
        )


class Retrier:
    def __init__(
        self,
        policy: RetryPolicy | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.policy = policy or RetryPolicy()
        self._sleep = sleep

    def call(self, send: Callable[[], T]) -> T:
        """Run ``send`` (one send of one message), retrying it while it fails retryably.

        Raises:
            SendFailed: the last failure, once it is not retryable or the attempts are spent.
        """
        delays = self.policy.delays()
        for attempt in range(len(delays) + 1):
            try:
                return send()
            except SendFailed as e:
                if not e.retryable or attempt == len(delays):
                    raise
                log.info("send failed, retrying", extra={"code": e.code, "attempt": attempt + 1})
                self._sleep(delays[attempt])
        raise AssertionError("unreachable: the last attempt returns or raises")

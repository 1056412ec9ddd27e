"""Retries with backoff: around one send, only for retryable failures, bounded, never sleeping
in tests (the sleep is injected)."""

from __future__ import annotations

import pytest

from imaradesk.channels.base import SendFailed
from imaradesk.delivery.retry import Retrier, RetryPolicy


class Flaky:
    """Fails with the given errors in turn, then answers "ok"."""

    def __init__(self, *errors: SendFailed) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


def _retrier(policy: RetryPolicy | None = None) -> tuple[Retrier, list[float]]:
    slept: list[float] = []
    return Retrier(policy, sleep=slept.append), slept


def test_the_default_policy_waits_longer_each_time() -> None:
    assert RetryPolicy().delays() == pytest.approx((0.2, 0.6))
    assert RetryPolicy(attempts=5, first_delay=1, factor=2, max_delay=3).delays() == (1, 2, 3, 3)
    assert RetryPolicy(attempts=1).delays() == ()
    with pytest.raises(ValueError):
        RetryPolicy(attempts=0)


def test_a_retryable_failure_is_tried_again_after_a_wait() -> None:
    retrier, slept = _retrier()
    send = Flaky(SendFailed("503"), SendFailed("503"))
    assert retrier.call(send) == "ok"
    assert send.calls == 3 and slept == pytest.approx([0.2, 0.6])


def test_a_permanent_failure_is_not_retried() -> None:
    retrier, slept = _retrier()
    send = Flaky(SendFailed("400", code="21211", retryable=False))
    with pytest.raises(SendFailed) as failed:
        retrier.call(send)
    assert failed.value.code == "21211" and send.calls == 1 and slept == []


def test_the_attempts_are_bounded_and_the_last_failure_is_raised() -> None:
    retrier, slept = _retrier(RetryPolicy(attempts=2))
    send = Flaky(SendFailed("first", code="a"), SendFailed("second", code="b"), SendFailed("c"))
    with pytest.raises(SendFailed) as failed:
        retrier.call(send)
    assert failed.value.code == "b" and send.calls == 2 and len(slept) == 1


def test_other_errors_are_not_retried() -> None:
    retrier, slept = _retrier()
    calls = []

    def broken() -> str:
        calls.append(1)
        raise RuntimeError("a bug, not a provider")

    with pytest.raises(RuntimeError):
        retrier.call(broken)
    assert calls == [1] and slept == []

"""An open-loop load generator: requests sent on schedule, answered or not.

A closed loop (each client waits for its answer before the next) hides overload: the rate falls
to what the server manages. Here request ``n`` leaves at ``n / rate`` seconds whatever came back
before, up to 64 in flight, and the figures are of what was answered.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from bench.banking77 import percentile

IN_FLIGHT = 64


def drive(rate: float, seconds: float, request: Callable[[int], bool]) -> dict:
    """Call ``request(n)`` for n in 0..rate*seconds on schedule; it says whether it succeeded.

    Returns offered and achieved per second, p50 and p99 of the successful ones (ms), errors
    and how many were sent.
    """
    latencies: list[float] = []
    errors = 0
    guard = threading.Lock()
    total = int(rate * seconds)

    def timed(n: int) -> None:
        nonlocal errors
        began = time.perf_counter()
        try:
            ok = request(n)
        except Exception:  # a failed request is an error of the run, not of the generator
            ok = False
        with guard:
            if ok:
                latencies.append((time.perf_counter() - began) * 1000)
            else:
                errors += 1

    began = time.perf_counter()
    with ThreadPoolExecutor(IN_FLIGHT) as pool:
        for n in range(total):
            delay = began + n / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            pool.submit(timed, n)
    elapsed = time.perf_counter() - began
    return {
        "offered_per_s": rate,
        "achieved_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies), 1) if latencies else None,
        "p99_ms": round(percentile(latencies, 0.99), 1) if latencies else None,
        "errors": errors,
        "sent": total,
    }

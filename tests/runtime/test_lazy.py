"""``lazy``: computed once per object, and one object's slow computation holds no other's."""

from __future__ import annotations

import threading

from imaradesk.runtime.lazy import lazy


class Turn:
    def __init__(self, gate: threading.Barrier | None = None) -> None:
        self.gate = gate
        self.computed = 0

    @lazy
    def answer(self) -> int:
        self.computed += 1
        if self.gate is not None:
            self.gate.wait()  # both objects must be inside at once to get past this
        return 42


def test_the_value_is_computed_once_and_then_kept() -> None:
    turn = Turn()
    assert (turn.answer, turn.answer) == (42, 42)
    assert turn.computed == 1


def test_two_objects_compute_at_the_same_time() -> None:
    # functools.cached_property on Python 3.11 holds one lock per class while it computes: the
    # second thread would wait for the first, the barrier would time out and this would fail.
    gate = threading.Barrier(2, timeout=5)
    turns = [Turn(gate), Turn(gate)]
    results: list[int] = []
    threads = [threading.Thread(target=lambda t=t: results.append(t.answer)) for t in turns]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert results == [42, 42]

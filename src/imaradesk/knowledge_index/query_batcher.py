"""Concurrent single-text queries encoded together, with no added wait.

A web worker serves several turns at once, each asking the encoder for one message's vector.
One at a time, a transformer pays its fixed cost per call (about 10 ms of CPU for MiniLM on
one question here); eight questions in one call cost about 5 ms each. Nothing waits for a batch
to fill: the first caller encodes at once, and whoever asks meanwhile queues; when a call ends,
the longest-waiting caller encodes everything queued by then (up to ``max_batch``) and hands
each caller its row. Under no load every query is encoded alone, as before.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import numpy as np

MAX_BATCH = 16


class _Query:
    __slots__ = ("done", "error", "leads", "text", "vector")

    def __init__(self, text: str) -> None:
        self.text = text
        self.done = threading.Event()
        self.leads = False
        self.vector: np.ndarray | None = None
        self.error: BaseException | None = None


class QueryBatcher:
    """Encodes single texts for concurrent callers, in batches formed while the encoder works."""

    def __init__(
        self, encode: Callable[[Sequence[str]], np.ndarray], *, max_batch: int = MAX_BATCH
    ) -> None:
        self._encode = encode
        self._max_batch = max_batch
        self._lock = threading.Lock()
        self._waiting: list[_Query] = []
        self._busy = False

    def encode_one(self, text: str) -> np.ndarray:
        """``text``'s vector, as one row of shape (1, dimension).

        Raises whatever the encoder raised for the batch ``text`` was in.
        """
        query = _Query(text)
        with self._lock:
            self._waiting.append(query)
            if not self._busy:
                self._busy = True
                query.leads = True
        if not query.leads:
            query.done.wait()
        if query.leads:
            self._encode_waiting()
        if query.error is not None:
            raise query.error
        assert query.vector is not None
        return query.vector

    def _encode_waiting(self) -> None:
        with self._lock:
            batch = self._waiting[: self._max_batch]
            del self._waiting[: self._max_batch]
        try:
            vectors = self._encode([q.text for q in batch])
        except BaseException as e:  # every caller of the batch hears of it, not only this one
            for q in batch:
                q.error = e
        else:
            for row, q in enumerate(batch):
                q.vector = np.ascontiguousarray(vectors[row : row + 1])
        with self._lock:
            if self._waiting:
                # Whoever has waited longest encodes the next batch on its own thread.
                self._waiting[0].leads = True
                self._waiting[0].done.set()
            else:
                self._busy = False
        for q in batch:
            q.done.set()

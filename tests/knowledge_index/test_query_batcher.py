"""Concurrent questions share an encoder call, and each caller gets its own question's vector."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from imaradesk.knowledge_index.embedder import HashingEmbedder, SentenceTransformerEmbedder
from imaradesk.knowledge_index.query_batcher import QueryBatcher


class SlowEncoder:
    """The hashing encoder, taking 20 ms a call (as a transformer does), recording its calls."""

    def __init__(self, fail_on: str | None = None) -> None:
        self._encoder = HashingEmbedder()
        self.calls: list[list[str]] = []
        self._fail_on = fail_on
        self._lock = threading.Lock()

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            self.calls.append(list(texts))
        time.sleep(0.02)
        if self._fail_on in texts:
            raise RuntimeError("the encoder failed")
        return self._encoder.embed(texts)


def test_concurrent_questions_are_encoded_together_each_getting_its_own_row() -> None:
    encoder = SlowEncoder()
    batcher = QueryBatcher(encoder, max_batch=8)
    texts = [f"question number {i} about my wallet" for i in range(40)]
    with ThreadPoolExecutor(16) as pool:
        vectors = list(pool.map(batcher.encode_one, texts))
    solo = HashingEmbedder().embed(texts)
    for text, vector, expected in zip(texts, vectors, solo, strict=True):
        assert vector.shape == (1, solo.shape[1]), text
        assert np.allclose(vector[0], expected), text
    # Every question encoded exactly once, in fewer calls than questions, none over the cap.
    assert sorted(t for call in encoder.calls for t in call) == sorted(texts)
    assert len(encoder.calls) < len(texts) / 2
    assert max(len(call) for call in encoder.calls) <= 8


def test_a_lone_question_is_encoded_at_once_alone() -> None:
    encoder = SlowEncoder()
    batcher = QueryBatcher(encoder)
    batcher.encode_one("how do I reset my PIN?")
    batcher.encode_one("nataka kubadilisha PIN")
    assert encoder.calls == [["how do I reset my PIN?"], ["nataka kubadilisha PIN"]]


def test_an_encoder_failure_reaches_every_caller_of_its_batch_and_the_next_batch_recovers() -> None:
    encoder = SlowEncoder(fail_on="poison")
    batcher = QueryBatcher(encoder)
    first = threading.Thread(target=batcher.encode_one, args=("a first question",))
    first.start()
    time.sleep(0.005)  # the first call is under way: the next two queue into one batch
    outcomes: dict[str, object] = {}

    def ask(text: str) -> None:
        try:
            outcomes[text] = batcher.encode_one(text)
        except RuntimeError as e:
            outcomes[text] = e

    askers = [threading.Thread(target=ask, args=(t,)) for t in ("poison", "an innocent question")]
    for t in askers:
        t.start()
    for t in (first, *askers):
        t.join(5)
    assert {"poison", "an innocent question"} in [set(call) for call in encoder.calls]
    assert isinstance(outcomes["poison"], RuntimeError)
    assert isinstance(outcomes["an innocent question"], RuntimeError)
    # Nobody is left waiting, and the batcher still works.
    assert batcher.encode_one("after the failure").shape == (1, 256)


@pytest.mark.slow
def test_the_real_encoder_gives_the_same_vectors_batched_as_alone() -> None:
    embedder = SentenceTransformerEmbedder()
    texts = ["How do I check my balance?", "my card was declined at the shop", "hi"]
    with ThreadPoolExecutor(3) as pool:
        together = np.vstack(list(pool.map(lambda t: embedder.embed([t]), texts)))
    alone = np.vstack([embedder._encode([t]) for t in texts])
    assert np.allclose(together, alone, atol=1e-5)

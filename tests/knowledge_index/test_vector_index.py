"""The VectorIndex contract, run against every implementation."""

from __future__ import annotations

import numpy as np
import pytest

from imaradesk.knowledge_index.vector_index import FaissVectorIndex, VectorIndexError

IMPLEMENTATIONS = [FaissVectorIndex]


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(params=IMPLEMENTATIONS, ids=lambda cls: cls.__name__)
def index(request: pytest.FixtureRequest):
    return request.param(8)


def test_search_finds_the_nearest_with_cosine_scores(index) -> None:
    vectors = unit(np.eye(8)[:4] + 0.01)
    index.upsert([10, 20, 30, 40], vectors)
    scores, ids = index.search(vectors[2:3], 2)
    assert ids[0, 0] == 30
    assert scores[0, 0] == pytest.approx(1.0, abs=1e-5)
    assert len(index) == 4


def test_upsert_replaces_in_place_and_remove_deletes(index) -> None:
    vectors = unit(np.eye(8)[:3] + 0.01)
    index.upsert([1, 2, 3], vectors)
    index.upsert([2], vectors[0:1])  # id 2 now points where id 1 does
    assert len(index) == 3
    np.testing.assert_allclose(index.vectors([2]), vectors[0:1], atol=1e-6)
    assert index.remove([1, 99]) == 1
    assert sorted(index.ids().tolist()) == [2, 3]
    _, ids = index.search(vectors[0:1], 3)
    assert 1 not in ids[0].tolist()
    with pytest.raises(VectorIndexError):
        index.vectors([1])


def test_empty_index_returns_no_ids(index) -> None:
    scores, ids = index.search(unit(np.ones((1, 8))), 3)
    assert ids.tolist() == [[-1, -1, -1]]


def test_wrong_shape_is_refused(index) -> None:
    with pytest.raises(VectorIndexError):
        index.upsert([1, 2], unit(np.ones((1, 8))))


def test_bytes_round_trip(index) -> None:
    vectors = unit(np.random.default_rng(0).normal(size=(50, 8)))
    index.upsert(list(range(100, 150)), vectors)
    loaded = type(index).from_bytes(index.to_bytes())
    assert sorted(loaded.ids().tolist()) == list(range(100, 150))
    np.testing.assert_array_equal(loaded.search(vectors[:5], 3)[1], index.search(vectors[:5], 3)[1])
    with pytest.raises(VectorIndexError):
        type(index).from_bytes(b"not an index")

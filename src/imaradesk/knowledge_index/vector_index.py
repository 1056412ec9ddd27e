"""Vector indexes: a Protocol and the in-process FAISS implementation.

FAISS: ``IndexIDMap2(IndexFlatIP)`` over L2-normalised vectors, so inner product is cosine
similarity, search is exact, and ids can be removed (erasure needs that; HNSW cannot delete).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import faiss
import numpy as np

from imaradesk.knowledge_index.errors import VectorIndexError as VectorIndexError


class VectorIndex(Protocol):
    @property
    def dimension(self) -> int: ...

    def __len__(self) -> int: ...

    def upsert(self, ids: Sequence[int], vectors: np.ndarray) -> None:
        """Add vectors under the given ids, replacing any already stored under them."""
        ...

    def remove(self, ids: Sequence[int]) -> int:
        """Remove the given ids; return how many were present."""
        ...

    def search(self, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Return (scores, ids), each of shape (len(vectors), k); missing slots have id -1."""
        ...

    def ids(self) -> np.ndarray:
        """All stored ids."""
        ...

    def vectors(self, ids: Sequence[int]) -> np.ndarray:
        """The stored vectors of the given ids, in that order.

        Raises:
            VectorIndexError: an id is not stored.
        """
        ...

    def to_bytes(self) -> bytes:
        """The whole index, serialized (the caller encrypts and stores it)."""
        ...


class FaissVectorIndex:
    def __init__(self, dimension: int, index: faiss.Index | None = None) -> None:
        self._dimension = dimension
        self._index = (
            index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> FaissVectorIndex:
        try:
            index = faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8))
        except RuntimeError as e:
            raise VectorIndexError(f"cannot read index: {e}") from e
        return cls(index.d, index)

    @property
    def dimension(self) -> int:
        return self._dimension

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def upsert(self, ids: Sequence[int], vectors: np.ndarray) -> None:
        if len(ids) == 0:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.shape != (len(ids), self._dimension):
            raise VectorIndexError(
                f"expected {len(ids)} vectors of dimension {self._dimension}, got {vectors.shape}"
            )
        id_array = np.asarray(ids, dtype=np.int64)
        self._index.remove_ids(id_array)  # type: ignore[arg-type]  # faiss's stubs miss arrays
        self._index.add_with_ids(vectors, id_array)

    def remove(self, ids: Sequence[int]) -> int:
        if len(ids) == 0:
            return 0
        return int(self._index.remove_ids(np.asarray(ids, dtype=np.int64)))  # type: ignore[arg-type]

    def search(self, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if len(self) == 0:
            shape = (vectors.shape[0], k)
            return np.full(shape, -np.inf, dtype=np.float32), np.full(shape, -1, dtype=np.int64)
        return self._index.search(vectors, k)

    def ids(self) -> np.ndarray:
        # An IndexIDMap, which faiss's stubs do not know.
        return faiss.vector_to_array(self._index.id_map).astype(np.int64)  # type: ignore[attr-defined]

    def vectors(self, ids: Sequence[int]) -> np.ndarray:
        out = np.empty((len(ids), self._dimension), dtype=np.float32)
        try:
            for row, vector_id in enumerate(ids):
                out[row] = self._index.reconstruct(int(vector_id))
        except RuntimeError as e:
            raise VectorIndexError(f"vector {vector_id} is not in the index") from e
        return out

    def to_bytes(self) -> bytes:
        return faiss.serialize_index(self._index).tobytes()

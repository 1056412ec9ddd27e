"""The answer models: given a query's scores, pick an entry and say whether it is safe.

``SimilarityMarginModel`` is the rule used when there is too little data to calibrate (and,
strict, while a large knowledge base is calibrated); ``CalibratedClassifierModel`` is what
``calibration.train_answer_model`` fits. Both persist to bytes (``load_answer_model``).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from imaradesk.knowledge_index.answer_features import (
    classifier_features,
    hybrid_features,
    rerank_features,
)
from imaradesk.knowledge_index.scores import EntryScores

HYBRID_METHOD = "hybrid_calibrated_classifier"


def softmax(logits: np.ndarray) -> np.ndarray:
    """Each row's logits as probabilities (shifted by the row's maximum, so exp cannot overflow)."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    probs: np.ndarray = exp / exp.sum(axis=1, keepdims=True)
    return probs


@dataclass(frozen=True)
class Judgement:
    entry_id: int | None
    confidence: float
    similarity: float
    confident: bool
    method: str


class AnswerModel(Protocol):
    method: str

    def judge(
        self,
        vector: np.ndarray,
        scores: EntryScores,
        *,
        min_similarity: float,
        lexical: EntryScores | None = None,
    ) -> Judgement:
        """Pick the entry that answers the query, and say whether it is safe to answer.

        Args:
            vector: the query's embedding.
            scores: best dense cosine similarity per entry among the nearest phrasings.
            min_similarity: below this dense similarity nothing is answered.
            lexical: best BM25 score per entry, for a model trained with texts (hybrid).
        """
        ...

    def to_bytes(self) -> bytes: ...


@dataclass
class SimilarityMarginModel:
    """Answer when the best entry is close enough and clearly ahead of the second best."""

    min_top_similarity: float
    min_margin: float
    method: str = "similarity_margin"

    def judge(
        self,
        vector: np.ndarray,
        scores: EntryScores,
        *,
        min_similarity: float,
        lexical: EntryScores | None = None,
    ) -> Judgement:
        # Lexical evidence is not used here: measured on few-shot BANKING77, answering when
        # BM25 agrees with a narrower dense margin added more wrong answers than right ones.
        ranked = scores.ranked()
        if not ranked:
            return Judgement(None, 0.0, 0.0, False, self.method)
        entry, top = ranked[0]
        # A knowledge base with a single entry has nothing to confuse it with.
        margin = top - ranked[1][1] if len(ranked) > 1 else 1.0
        confident = (
            top >= max(self.min_top_similarity, min_similarity) and margin >= self.min_margin
        )
        return Judgement(entry, float(top), float(top), confident, self.method)

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.savez(
            buffer,
            method=np.array(self.method),
            params=np.array([self.min_top_similarity, self.min_margin]),
        )
        return buffer.getvalue()


@dataclass
class Reranker:
    """The learned fusion: scores each plausible entry from its classifier log-probability,
    dense similarity (relative to the best) and BM25 score (relative to the best)."""

    weights: np.ndarray  # (len(_RERANK_FEATURES),)
    bias: float

    def pick(
        self,
        probs: np.ndarray,
        entry_ids: np.ndarray,
        class_of: dict[int, int],
        dense: EntryScores,
        lexical: EntryScores,
    ) -> tuple[int, float, float]:
        """The chosen class, and the softmax shares of the first and second candidates."""
        candidates, features = rerank_features(probs, entry_ids, class_of, dense, lexical)
        logits = features @ self.weights + self.bias
        shares = np.exp(logits - logits.max())
        shares /= shares.sum()
        order = np.argsort(-shares, kind="stable")
        second = float(shares[order[1]]) if len(order) > 1 else 0.0
        return candidates[int(order[0])], float(shares[order[0]]), second


@dataclass
class CalibratedClassifierModel:
    entry_ids: np.ndarray  # (n_classes,) entry id of each class
    weights: np.ndarray  # (n_classes, dim)
    bias: np.ndarray  # (n_classes,)
    calibrator_weights: np.ndarray  # (n_features,)
    calibrator_bias: float
    threshold: float
    # True when held-out data had too few mistakes to fit a calibrator: the confidence is then
    # the classifier's own probability.
    identity_calibration: bool = False
    # Set when trained for hybrid retrieval: it picks the entry, and lexical features join the
    # calibrator's.
    reranker: Reranker | None = None
    method: str = "calibrated_classifier"
    _class_of: dict[int, int] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.reranker is not None:
            self.method = HYBRID_METHOD
        self._class_of = {int(e): i for i, e in enumerate(self.entry_ids.tolist())}

    def probabilities(self, vectors: np.ndarray) -> np.ndarray:
        return softmax(vectors @ self.weights.T + self.bias)

    def judge(
        self,
        vector: np.ndarray,
        scores: EntryScores,
        *,
        min_similarity: float,
        lexical: EntryScores | None = None,
    ) -> Judgement:
        probs = self.probabilities(vector.reshape(1, -1))[0]
        if self.reranker is None:
            features, best = classifier_features(probs, scores, self.entry_ids)
        else:
            lexical = lexical if lexical is not None else EntryScores({}, 0.0)
            best, first, second = self.reranker.pick(
                probs, self.entry_ids, self._class_of, scores, lexical
            )
            features = hybrid_features(probs, scores, lexical, self.entry_ids, best, first, second)
        if self.identity_calibration:
            confidence = float(features[0])
        else:
            confidence = _sigmoid(float(features @ self.calibrator_weights + self.calibrator_bias))
        entry = int(self.entry_ids[best])
        similarity = scores.of(entry)
        confident = confidence >= self.threshold and similarity >= min_similarity
        return Judgement(entry, confidence, similarity, confident, self.method)

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        # Any: savez's own keyword options would otherwise clash with the arrays' names.
        arrays: dict[str, Any] = {
            "method": np.array(self.method),
            "entry_ids": self.entry_ids,
            "weights": self.weights,
            "bias": self.bias,
            "calibrator_weights": self.calibrator_weights,
            "params": np.array(
                [self.calibrator_bias, self.threshold, float(self.identity_calibration)]
            ),
        }
        if self.reranker is not None:
            arrays["reranker"] = np.append(self.reranker.weights, self.reranker.bias)
        np.savez(buffer, **arrays)
        return buffer.getvalue()


def load_answer_model(data: bytes) -> AnswerModel:
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        method = str(npz["method"])
        if method == SimilarityMarginModel.method:
            top, margin = npz["params"].tolist()
            return SimilarityMarginModel(top, margin)
        if method in (CalibratedClassifierModel.method, HYBRID_METHOD):
            bias, threshold, identity = npz["params"].tolist()
            reranker = None
            if method == HYBRID_METHOD:
                packed = npz["reranker"]
                reranker = Reranker(packed[:-1].copy(), float(packed[-1]))
            return CalibratedClassifierModel(
                entry_ids=npz["entry_ids"],
                weights=npz["weights"],
                bias=npz["bias"],
                calibrator_weights=npz["calibrator_weights"],
                calibrator_bias=bias,
                threshold=threshold,
                identity_calibration=bool(identity),
                reranker=reranker,
            )
    raise ValueError(f"unknown answer model {method!r}")


def _sigmoid(x: float) -> float:
    # Annotated, not converted: the value stays the numpy scalar it always was.
    value: float = 1.0 / (1.0 + np.exp(-x))
    return value

"""Deciding whether the best knowledge entry is a safe answer.

Fine-grained FAQs sit close together in embedding space, so a similarity threshold alone
answers many questions from the wrong entry. Where an organization has enough phrasings per
entry, we train a light classifier on them (multinomial logistic regression on the
embeddings), and a calibrator that predicts, from the classifier's and the retrieval's scores,
the probability that the classifier is right. Both are fitted on held-out folds of the
organization's own phrasings, and the answer threshold is the lowest one at which the share of
wrong answers on those folds stays under the configured target. With too few phrasings to
measure that, a similarity-and-margin rule decides instead.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from sklearn.linear_model import LogisticRegression

CLASSIFIER_C = 10.0
MIN_HELD_OUT = 100
MIN_HELD_OUT_ERRORS = 5


@dataclass(frozen=True)
class Judgement:
    entry_id: int | None
    confidence: float
    similarity: float
    confident: bool
    method: str


@dataclass(frozen=True)
class EntryScores:
    """Best cosine similarity per entry among the nearest phrasings found for one query."""

    by_entry: dict[int, float]
    floor: float

    def of(self, entry_id: int) -> float:
        return self.by_entry.get(entry_id, self.floor)

    def ranked(self) -> list[tuple[int, float]]:
        return sorted(self.by_entry.items(), key=lambda item: -item[1])


def entry_scores(
    scores: np.ndarray, phrasing_ids: np.ndarray, entry_of: dict[int, int]
) -> EntryScores:
    """Collapse one query's nearest phrasings (scores and ids of a search) to entries."""
    by_entry: dict[int, float] = {}
    floor = -1.0
    for score, phrasing_id in zip(scores.tolist(), phrasing_ids.tolist(), strict=True):
        if phrasing_id < 0:
            continue
        floor = score
        entry = entry_of.get(int(phrasing_id))
        if entry is not None and score > by_entry.get(entry, -2.0):
            by_entry[entry] = float(score)
    return EntryScores(by_entry, float(floor))


class AnswerModel(Protocol):
    method: str

    def judge(self, vector: np.ndarray, scores: EntryScores, *, min_similarity: float) -> Judgement:
        """Pick the entry that answers the query, and say whether it is safe to answer."""
        ...

    def to_bytes(self) -> bytes: ...


@dataclass
class SimilarityMarginModel:
    """Answer when the best entry is close enough and clearly ahead of the second best."""

    min_top_similarity: float
    min_margin: float
    method: str = "similarity_margin"

    def judge(self, vector: np.ndarray, scores: EntryScores, *, min_similarity: float) -> Judgement:
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
    method: str = "calibrated_classifier"

    def probabilities(self, vectors: np.ndarray) -> np.ndarray:
        logits = vectors @ self.weights.T + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)

    def judge(self, vector: np.ndarray, scores: EntryScores, *, min_similarity: float) -> Judgement:
        probs = self.probabilities(vector.reshape(1, -1))[0]
        features, best = _features(probs, scores, self.entry_ids)
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
        np.savez(
            buffer,
            method=np.array(self.method),
            entry_ids=self.entry_ids,
            weights=self.weights,
            bias=self.bias,
            calibrator_weights=self.calibrator_weights,
            params=np.array(
                [self.calibrator_bias, self.threshold, float(self.identity_calibration)]
            ),
        )
        return buffer.getvalue()


def load_answer_model(data: bytes) -> AnswerModel:
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        method = str(npz["method"])
        if method == SimilarityMarginModel.method:
            top, margin = npz["params"].tolist()
            return SimilarityMarginModel(top, margin)
        if method == CalibratedClassifierModel.method:
            bias, threshold, identity = npz["params"].tolist()
            return CalibratedClassifierModel(
                entry_ids=npz["entry_ids"],
                weights=npz["weights"],
                bias=npz["bias"],
                calibrator_weights=npz["calibrator_weights"],
                calibrator_bias=bias,
                threshold=threshold,
                identity_calibration=bool(identity),
            )
    raise ValueError(f"unknown answer model {method!r}")


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + np.exp(-x))


def _features(
    probs: np.ndarray, scores: EntryScores, entry_ids: np.ndarray
) -> tuple[np.ndarray, int]:
    order = np.argsort(probs)
    best = int(order[-1])
    p1 = float(probs[best])
    p2 = float(probs[order[-2]]) if len(order) > 1 else 0.0
    ranked = scores.ranked()
    top = ranked[0][1] if ranked else scores.floor
    second = ranked[1][1] if len(ranked) > 1 else scores.floor
    predicted_similarity = scores.of(int(entry_ids[best]))
    agrees = 1.0 if ranked and ranked[0][0] == int(entry_ids[best]) else 0.0
    features = np.array(
        [p1, p1 - p2, predicted_similarity, predicted_similarity - top, top - second, agrees]
    )
    return features, best


@dataclass(frozen=True)
class TrainingReport:
    method: str
    phrasings: int
    entries: int
    held_out: int
    held_out_errors: int
    threshold: float | None
    held_out_answer_rate: float | None
    held_out_wrong_rate: float | None


def train_answer_model(
    vectors: np.ndarray,
    entry_of_row: Sequence[int],
    *,
    max_wrong_answer_rate: float,
    fallback_min_similarity: float,
    fallback_min_margin: float,
    search_k: int,
    seed: int = 0,
) -> tuple[AnswerModel, TrainingReport]:
    """Fit the answer model of one organization from its phrasing vectors."""
    labels = np.asarray(entry_of_row, dtype=np.int64)
    fallback = SimilarityMarginModel(fallback_min_similarity, fallback_min_margin)
    classes, counts = np.unique(labels, return_counts=True)
    multi = classes[counts >= 2]
    if len(classes) < 2 or len(multi) < 2 or counts[counts >= 2].sum() < MIN_HELD_OUT:
        return fallback, TrainingReport(
            fallback.method, len(labels), len(classes), 0, 0, None, None, None
        )

    folds = _assign_folds(
        labels, classes, counts, n_folds=5 if len(labels) <= 4000 else 3, seed=seed
    )
    features: list[np.ndarray] = []
    correct: list[bool] = []
    for fold in range(int(folds.max()) + 1):
        held = folds == fold
        if not held.any():
            continue
        train = ~held
        classifier = _fit_classifier(vectors[train], labels[train])
        fold_entries = classifier.classes_
        probs = classifier.predict_proba(vectors[held])
        train_rows = np.flatnonzero(train)
        entry_of = {int(r): int(labels[r]) for r in train_rows}
        sims = vectors[held] @ vectors[train].T
        k = min(search_k, sims.shape[1])
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        for row in range(sims.shape[0]):
            row_ids = top[row][np.argsort(-sims[row, top[row]])]
            scores = entry_scores(sims[row, row_ids], train_rows[row_ids], entry_of)
            f, best = _features(probs[row], scores, fold_entries)
            features.append(f)
            correct.append(int(fold_entries[best]) == int(labels[held][row]))

    X = np.vstack(features)
    y = np.asarray(correct)
    errors = int((~y).sum())
    if y.sum() < MIN_HELD_OUT_ERRORS:
        return fallback, TrainingReport(
            fallback.method, len(labels), len(classes), len(y), errors, None, None, None
        )
    if errors < MIN_HELD_OUT_ERRORS:
        # Too few mistakes to learn what one looks like: the classifier is simply reliable
        # here. Trust its own probability, answering what it was sure of on held-out phrasings.
        calibrator_weights = np.array([1.0] + [0.0] * (X.shape[1] - 1))
        calibrator_bias = 0.0
        confidence = X[:, 0]
        threshold = float(np.quantile(confidence[y], 0.05))
        answered = confidence >= threshold
        answer_rate = float(answered.mean())
        wrong_rate = float((~y[answered]).mean()) if answered.any() else 0.0
        identity = True
    else:
        calibrator = LogisticRegression(C=1.0, max_iter=1000).fit(X, y)
        calibrator_weights = calibrator.coef_[0].astype(np.float64)
        calibrator_bias = float(calibrator.intercept_[0])
        confidence = calibrator.predict_proba(X)[:, 1]
        threshold, answer_rate, wrong_rate = _threshold_for(confidence, y, max_wrong_answer_rate)
        identity = False

    final = _fit_classifier(vectors, labels)
    model = CalibratedClassifierModel(
        entry_ids=final.classes_.astype(np.int64),
        weights=final.coef_.astype(np.float32),
        bias=final.intercept_.astype(np.float32),
        calibrator_weights=calibrator_weights,
        calibrator_bias=calibrator_bias,
        threshold=threshold,
        identity_calibration=identity,
    )
    return model, TrainingReport(
        model.method, len(labels), len(classes), len(y), errors, threshold, answer_rate, wrong_rate
    )


def _fit_classifier(vectors: np.ndarray, labels: np.ndarray) -> LogisticRegression:
    return LogisticRegression(C=CLASSIFIER_C, max_iter=1000).fit(vectors, labels)


def _assign_folds(
    labels: np.ndarray, classes: np.ndarray, counts: np.ndarray, *, n_folds: int, seed: int
) -> np.ndarray:
    """Spread each entry's phrasings over folds; an entry's only phrasing is never held out.

    Every entry then keeps at least one phrasing in every training split.
    """
    rng = np.random.default_rng(seed)
    folds = np.full(len(labels), -1, dtype=np.int64)
    for entry, count in zip(classes.tolist(), counts.tolist(), strict=True):
        if count < 2:
            continue
        rows = rng.permutation(np.flatnonzero(labels == entry))
        offset = int(rng.integers(n_folds))
        folds[rows] = (np.arange(len(rows)) + offset) % n_folds
    return folds


def _threshold_for(
    confidence: np.ndarray, correct: np.ndarray, target: float
) -> tuple[float, float, float]:
    """The lowest confidence threshold whose answers are wrong at most ``target`` of the time."""
    order = np.argsort(-confidence)
    hits = correct[order]
    answered = np.arange(1, len(hits) + 1)
    wrong_share = np.cumsum(~hits) / answered
    ok = np.flatnonzero(wrong_share <= target)
    if len(ok) == 0:
        return 1.01, 0.0, 0.0
    last = int(ok.max())
    threshold = float(confidence[order][last])
    return threshold, float((last + 1) / len(hits)), float(wrong_share[last])

"""Fitting an organization's answer model on held-out folds of its own phrasings.

See ``confidence.py`` for why: the classifier, the hybrid reranker and the calibrator are
fitted on held-out folds, and the answer threshold is the lowest one at which the share of
wrong answers on those folds stays under the configured target.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression

from imaradesk.knowledge_index.answer_features import (
    classifier_features,
    hybrid_features,
    rerank_features,
)
from imaradesk.knowledge_index.answer_models import (
    AnswerModel,
    CalibratedClassifierModel,
    Reranker,
    SimilarityMarginModel,
    softmax,
)
from imaradesk.knowledge_index.lexical import LexicalIndex
from imaradesk.knowledge_index.scores import EntryScores, entry_scores, lexical_entry_scores
from imaradesk.knowledge_index.tuning import fit_projection, head_applies

CLASSIFIER_C = 10.0
MIN_HELD_OUT = 100
MIN_HELD_OUT_ERRORS = 5
_SCORE_SLICE = 512


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
    # Whether the classifier was fitted through the organization's contrastive head (tuning.py).
    tuned: bool = False


@dataclass(frozen=True)
class _HeldOut:
    """One held-out phrasing, seen through its fold's classifier and indexes."""

    probs: np.ndarray
    dense: EntryScores
    lexical: EntryScores
    label: int
    fold: int


# Per fold: the entry id of each class of its classifier, and the class of each entry id.
_FoldClasses = dict[int, tuple[np.ndarray, dict[int, int]]]


@dataclass(frozen=True)
class _Calibration:
    weights: np.ndarray
    bias: float
    threshold: float
    answer_rate: float
    wrong_rate: float
    identity: bool


def train_answer_model(
    vectors: np.ndarray,
    entry_of_row: Sequence[int],
    *,
    max_wrong_answer_rate: float,
    fallback_min_similarity: float,
    fallback_min_margin: float,
    search_k: int,
    texts: Sequence[str] | None = None,
    seed: int = 0,
    lexical_subwords: bool = False,
    tune: bool = False,
) -> tuple[AnswerModel, TrainingReport]:
    """Fit the answer model of one organization from its phrasing vectors.

    With ``texts`` (one per row), the model is trained for hybrid retrieval: it expects the
    lexical scores of an index over those texts at judgement time. With ``tune``, a small
    knowledge base's classifier is fitted through a contrastive head trained on its own
    phrasings (tuning.py), in every fold as in the final model, so the calibration speaks for
    the tuned classifier.
    """
    labels = np.asarray(entry_of_row, dtype=np.int64)
    fallback = SimilarityMarginModel(fallback_min_similarity, fallback_min_margin)
    classes, counts = np.unique(labels, return_counts=True)
    multi = classes[counts >= 2]
    if len(classes) < 2 or len(multi) < 2 or counts[counts >= 2].sum() < MIN_HELD_OUT:
        return fallback, TrainingReport(
            fallback.method, len(labels), len(classes), 0, 0, None, None, None
        )

    tuned = tune and head_applies(len(labels), len(classes))
    folds = _assign_folds(
        labels, classes, counts, n_folds=5 if len(labels) <= 4000 else 3, seed=seed
    )
    held_out, fold_classes = _held_out(
        vectors,
        labels,
        folds,
        search_k=search_k,
        texts=texts,
        subwords=lexical_subwords,
        tuned=tuned,
        seed=seed,
    )
    reranker = None if texts is None else _fit_reranker(held_out, fold_classes)
    X, y = _calibration_data(held_out, fold_classes, reranker)
    errors = int((~y).sum())
    if y.sum() < MIN_HELD_OUT_ERRORS:
        return fallback, TrainingReport(
            fallback.method, len(labels), len(classes), len(y), errors, None, None, None
        )
    calibration = _calibrate(X, y, errors=errors, max_wrong_answer_rate=max_wrong_answer_rate)

    final = _fit_classifier(vectors, labels, tuned=tuned, seed=seed)
    model = CalibratedClassifierModel(
        entry_ids=final.classes_.astype(np.int64),
        weights=final.coef_.astype(np.float32),
        bias=final.intercept_.astype(np.float32),
        calibrator_weights=calibration.weights,
        calibrator_bias=calibration.bias,
        threshold=calibration.threshold,
        identity_calibration=calibration.identity,
        reranker=reranker,
    )
    return model, TrainingReport(
        model.method,
        len(labels),
        len(classes),
        len(y),
        errors,
        calibration.threshold,
        calibration.answer_rate,
        calibration.wrong_rate,
        tuned,
    )


def _held_out(
    vectors: np.ndarray,
    labels: np.ndarray,
    folds: np.ndarray,
    *,
    search_k: int,
    texts: Sequence[str] | None,
    subwords: bool = False,
    tuned: bool = False,
    seed: int = 0,
) -> tuple[list[_HeldOut], _FoldClasses]:
    """Every held-out phrasing seen through its fold's classifier and indexes."""
    held_out: list[_HeldOut] = []
    fold_classes: _FoldClasses = {}
    for fold in range(int(folds.max()) + 1):
        held = folds == fold
        if not held.any():
            continue
        train = ~held
        classifier = _fit_classifier(vectors[train], labels[train], tuned=tuned, seed=seed)
        probs = classifier.predict_proba(vectors[held])
        fold_classes[fold] = (classifier.classes_, _class_index(classifier.classes_))
        train_rows = np.flatnonzero(train)
        entry_of = {int(r): int(labels[r]) for r in train_rows}
        sims = vectors[held] @ vectors[train].T
        k = min(search_k, sims.shape[1])
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        if texts is None:
            lexical = [EntryScores({}, 0.0)] * int(held.sum())
        else:
            lexical = _fold_lexical(
                texts, labels, train_rows, np.flatnonzero(held), search_k, subwords=subwords
            )
        for row, truth in enumerate(labels[held].tolist()):
            row_ids = top[row][np.argsort(-sims[row, top[row]])]
            dense = entry_scores(sims[row, row_ids], train_rows[row_ids], entry_of)
            held_out.append(_HeldOut(probs[row], dense, lexical[row], int(truth), fold))
    return held_out, fold_classes


def _fold_lexical(
    texts: Sequence[str],
    labels: np.ndarray,
    train_rows: np.ndarray,
    held_rows: np.ndarray,
    search_k: int,
    *,
    subwords: bool = False,
) -> list[EntryScores]:
    """BM25 entry scores of the held-out texts, from the fold's own lexical index."""
    # The held-out phrasings' words must not be in it.
    index = LexicalIndex.build([(int(r), texts[r]) for r in train_rows], subwords=subwords)
    held_texts = [texts[r] for r in held_rows]
    lexical: list[EntryScores] = []
    # In slices: a (held-out, phrasings) score matrix at once could be gigabytes.
    for start in range(0, len(held_texts), _SCORE_SLICE):
        lexical += lexical_entry_scores(
            index.score_all(held_texts[start : start + _SCORE_SLICE]),
            labels[index.ids()],
            search_k,
        )
    return lexical


def _calibration_data(
    held_out: Sequence[_HeldOut], fold_classes: _FoldClasses, reranker: Reranker | None
) -> tuple[np.ndarray, np.ndarray]:
    """What the calibrator sees of each held-out phrasing, and whether its answer was right."""
    features: list[np.ndarray] = []
    correct: list[bool] = []
    for item in held_out:
        entry_ids, class_of = fold_classes[item.fold]
        if reranker is None:
            f, best = classifier_features(item.probs, item.dense, entry_ids)
        else:
            best, first, second = reranker.pick(
                item.probs, entry_ids, class_of, item.dense, item.lexical
            )
            f = hybrid_features(
                item.probs, item.dense, item.lexical, entry_ids, best, first, second
            )
        features.append(f)
        correct.append(int(entry_ids[best]) == item.label)
    return np.vstack(features), np.asarray(correct)


def _calibrate(
    X: np.ndarray, y: np.ndarray, *, errors: int, max_wrong_answer_rate: float
) -> _Calibration:
    """The calibrator and the answer threshold, fitted on the held-out phrasings."""
    if errors < MIN_HELD_OUT_ERRORS:
        # Too few mistakes to learn what one looks like: the classifier is simply reliable
        # here. Trust its own probability, answering what it was sure of on held-out phrasings.
        confidence = X[:, 0]
        threshold = float(np.quantile(confidence[y], 0.05))
        answered = confidence >= threshold
        return _Calibration(
            weights=np.array([1.0] + [0.0] * (X.shape[1] - 1)),
            bias=0.0,
            threshold=threshold,
            answer_rate=float(answered.mean()),
            wrong_rate=float((~y[answered]).mean()) if answered.any() else 0.0,
            identity=True,
        )
    calibrator = LogisticRegression(C=1.0, max_iter=1000).fit(X, y)
    confidence = calibrator.predict_proba(X)[:, 1]
    threshold, answer_rate, wrong_rate = _threshold_for(confidence, y, max_wrong_answer_rate)
    return _Calibration(
        weights=calibrator.coef_[0].astype(np.float64),
        bias=float(calibrator.intercept_[0]),
        threshold=threshold,
        answer_rate=answer_rate,
        wrong_rate=wrong_rate,
        identity=False,
    )


def _class_index(entry_ids: np.ndarray) -> dict[int, int]:
    return {int(e): i for i, e in enumerate(entry_ids.tolist())}


def _fit_reranker(held_out: Sequence[_HeldOut], fold_classes: _FoldClasses) -> Reranker:
    """Learn from the held-out phrasings which of their plausible entries is the right one."""
    rows: list[np.ndarray] = []
    right: list[bool] = []
    for item in held_out:
        entry_ids, class_of = fold_classes[item.fold]
        candidates, features = rerank_features(
            item.probs, entry_ids, class_of, item.dense, item.lexical
        )
        rows.append(features)
        right += [int(entry_ids[c]) == item.label for c in candidates]
    y = np.asarray(right)
    if y.all() or not y.any():
        # Nothing to tell apart: follow the classifier alone.
        return Reranker(np.array([1.0, 0.0, 0.0, 0.0]), 0.0)
    fitted = LogisticRegression(C=1.0, max_iter=1000).fit(np.vstack(rows), y)
    return Reranker(fitted.coef_[0].astype(np.float64), float(fitted.intercept_[0]))


@dataclass(frozen=True)
class _Classifier:
    """A fitted linear classifier over the embedder's vectors (a head folded in)."""

    classes_: np.ndarray
    coef_: np.ndarray
    intercept_: np.ndarray

    def predict_proba(self, vectors: np.ndarray) -> np.ndarray:
        return softmax(vectors @ self.coef_.T + self.intercept_)


def _fit_classifier(
    vectors: np.ndarray, labels: np.ndarray, *, tuned: bool = False, seed: int = 0
) -> LogisticRegression | _Classifier:
    if not tuned:
        return LogisticRegression(C=CLASSIFIER_C, max_iter=1000).fit(vectors, labels)
    # Logistic regression on the mapped vectors W x is linear in x: its weights times W serve
    # the raw query vector exactly as the plain classifier's do.
    projection = fit_projection(vectors, labels, seed=seed)
    fitted = LogisticRegression(C=CLASSIFIER_C, max_iter=1000).fit(vectors @ projection.T, labels)
    return _Classifier(
        fitted.classes_, (fitted.coef_ @ projection).astype(np.float32), fitted.intercept_
    )


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

"""Deciding whether the best knowledge entry is a safe answer.

Fine-grained FAQs sit close together in embedding space, so a similarity threshold alone
answers many questions from the wrong entry. Where an organization has enough phrasings per
entry, we train a light classifier on them (multinomial logistic regression on the
embeddings), and a calibrator that predicts, from the classifier's and the retrieval's scores,
the probability that the classifier is right. Both are fitted on held-out folds of the
organization's own phrasings, and the answer threshold is the lowest one at which the share of
wrong answers on those folds stays under the configured target. With too few phrasings to
measure that, a similarity-and-margin rule decides instead.

Hybrid retrieval adds BM25 over the same phrasings (``lexical.py``). The fusion is learned on
the same held-out folds: a small reranker weighs, for each plausible entry, the classifier's
log-probability, its dense similarity and its BM25 score (each fold's lexical index, like its
classifier, never contains the held-out phrasings), picks the entry, and the calibrator sees
the lexical evidence too. So the threshold is still fitted on the organization's own
phrasings, for the retrieval actually used. The similarity-and-margin rule stays dense: on
few-shot data, letting lexical agreement relax it answered more but wronger.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from sklearn.linear_model import LogisticRegression

from imaradesk.knowledge_index.lexical import LexicalIndex

CLASSIFIER_C = 10.0
MIN_HELD_OUT = 100
MIN_HELD_OUT_ERRORS = 5
# Weight of BM25 (as a share of the query's best BM25 score) against the dense cosine in the
# fused score that orders candidates. Measured on BANKING77 (candidates' top-1/top-3 with 1, 3,
# 10 and all phrasings per entry): 0.1 was within 0.2 points of dense alone with one phrasing
# and better with 10 and all; 0.2-0.3 and reciprocal rank fusion did worse than dense, as BM25
# alone is far weaker there. Choosing the answer is the learned reranker's job, not this score's.
LEXICAL_WEIGHT = 0.1
# Entries the reranker considers: the classifier's best few, plus each ranker's best.
RERANK_FROM_CLASSIFIER = 5
RERANK_FROM_RANKERS = 3
_SCORE_SLICE = 512


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


def lexical_entry_scores(
    phrasing_scores: np.ndarray, phrasing_entries: np.ndarray, k: int
) -> list[EntryScores]:
    """Best BM25 score per entry, for each row of a (queries, phrasings) score matrix.

    Each row keeps its ``k`` best entries with a score; ``floor`` is the best score left out
    (an upper bound for any entry not kept), 0 when none is.
    """
    if phrasing_scores.shape[1] == 0:
        return [EntryScores({}, 0.0) for _ in range(phrasing_scores.shape[0])]
    entries, position = np.unique(phrasing_entries, return_inverse=True)
    order = np.argsort(position, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(position[order]) != 0])
    per_entry = np.maximum.reduceat(phrasing_scores[:, order], starts, axis=1)
    keep = min(k, per_entry.shape[1])
    out = []
    for row in per_entry:
        best = np.argsort(-row, kind="stable")
        by_entry = {int(entries[j]): float(row[j]) for j in best[:keep] if row[j] > 0}
        floor = float(row[best[keep]]) if keep < len(best) else 0.0
        out.append(EntryScores(by_entry, floor))
    return out


def fuse(similarity: float, lexical_share: float) -> float:
    """One entry's fused score, from its cosine and its BM25 score over the query's best."""
    return (1.0 - LEXICAL_WEIGHT) * similarity + LEXICAL_WEIGHT * lexical_share


def fused_scores(dense: EntryScores, lexical: EntryScores) -> dict[int, float]:
    """Fused score of every entry either ranker found (an entry dense did not find counts at
    the dense floor, an upper bound of its cosine)."""
    ranked = lexical.ranked()
    best = ranked[0][1] if ranked else 0.0
    return {
        entry: fuse(dense.of(entry), lexical.of(entry) / best if best > 0 else 0.0)
        for entry in set(dense.by_entry) | set(lexical.by_entry)
    }


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
        candidates, features = _rerank_features(probs, entry_ids, class_of, dense, lexical)
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
        logits = vectors @ self.weights.T + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)

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
            features, best = _features(probs, scores, self.entry_ids)
        else:
            lexical = lexical if lexical is not None else EntryScores({}, 0.0)
            best, first, second = self.reranker.pick(
                probs, self.entry_ids, self._class_of, scores, lexical
            )
            features = _hybrid_features(probs, scores, lexical, self.entry_ids, best, first, second)
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
        reranker = (
            {}
            if self.reranker is None
            else {"reranker": np.append(self.reranker.weights, self.reranker.bias)}
        )
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
            **reranker,
        )
        return buffer.getvalue()


HYBRID_METHOD = "hybrid_calibrated_classifier"


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


def _rerank_features(
    probs: np.ndarray,
    entry_ids: np.ndarray,
    class_of: dict[int, int],
    dense: EntryScores,
    lexical: EntryScores,
) -> tuple[list[int], np.ndarray]:
    """The plausible classes of one query and, for each, what the reranker weighs."""
    candidates = np.argsort(-probs, kind="stable")[:RERANK_FROM_CLASSIFIER].tolist()
    dense_ranked, lexical_ranked = dense.ranked(), lexical.ranked()
    for entry, _ in dense_ranked[:RERANK_FROM_RANKERS] + lexical_ranked[:RERANK_FROM_RANKERS]:
        index = class_of.get(entry)
        if index is not None and index not in candidates:
            candidates.append(index)
    dense_top = dense_ranked[0][1] if dense_ranked else dense.floor
    lexical_top = lexical_ranked[0][1] if lexical_ranked else 0.0
    lexical_best = lexical_ranked[0][0] if lexical_ranked else None
    rows = []
    for index in candidates:
        entry = int(entry_ids[index])
        rows.append(
            [
                np.log(max(float(probs[index]), 1e-6)),
                dense.of(entry) - dense_top,
                lexical.of(entry) / lexical_top if lexical_top > 0 else 0.0,
                1.0 if entry == lexical_best else 0.0,
            ]
        )
    return candidates, np.array(rows)


def _hybrid_features(
    probs: np.ndarray,
    dense: EntryScores,
    lexical: EntryScores,
    entry_ids: np.ndarray,
    chosen: int,
    share: float,
    second_share: float,
) -> np.ndarray:
    """What the calibrator of a hybrid model sees about the reranker's choice."""
    entry = int(entry_ids[chosen])
    p = float(probs[chosen])
    rival = float(np.max(np.delete(probs, chosen))) if len(probs) > 1 else 0.0
    dense_ranked, lexical_ranked = dense.ranked(), lexical.ranked()
    top = dense_ranked[0][1] if dense_ranked else dense.floor
    second = dense_ranked[1][1] if len(dense_ranked) > 1 else dense.floor
    lexical_top = lexical_ranked[0][1] if lexical_ranked else 0.0
    lexical_second = lexical_ranked[1][1] if len(lexical_ranked) > 1 else lexical.floor
    if lexical_top > 0:
        lexical_share = lexical.of(entry) / lexical_top
        lexical_margin = (lexical_top - lexical_second) / lexical_top
    else:
        lexical_share = lexical_margin = 0.0
    return np.array(
        [
            p,
            p - rival,
            dense.of(entry),
            dense.of(entry) - top,
            top - second,
            1.0 if dense_ranked and dense_ranked[0][0] == entry else 0.0,
            lexical_share,
            1.0 if lexical_ranked and lexical_ranked[0][0] == entry else 0.0,
            lexical_margin,
            float(np.log1p(lexical_top)),
            share,
            share - second_share,
        ]
    )


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


@dataclass(frozen=True)
class _HeldOut:
    """One held-out phrasing, seen through its fold's classifier and indexes."""

    probs: np.ndarray
    dense: EntryScores
    lexical: EntryScores
    label: int
    fold: int


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
) -> tuple[AnswerModel, TrainingReport]:
    """Fit the answer model of one organization from its phrasing vectors.

    With ``texts`` (one per row), the model is trained for hybrid retrieval: it expects the
    lexical scores of an index over those texts at judgement time.
    """
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
    held_out: list[_HeldOut] = []
    # Per fold: the entry id of each class of its classifier, and the class of each entry id.
    fold_classes: dict[int, tuple[np.ndarray, dict[int, int]]] = {}
    for fold in range(int(folds.max()) + 1):
        held = folds == fold
        if not held.any():
            continue
        train = ~held
        classifier = _fit_classifier(vectors[train], labels[train])
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
            # The fold's own lexical index: the held-out phrasings' words must not be in it.
            index = LexicalIndex.build([(int(r), texts[r]) for r in train_rows])
            held_texts = [texts[r] for r in np.flatnonzero(held)]
            lexical = []
            # In slices: a (held-out, phrasings) score matrix at once could be gigabytes.
            for start in range(0, len(held_texts), _SCORE_SLICE):
                lexical += lexical_entry_scores(
                    index.score_all(held_texts[start : start + _SCORE_SLICE]),
                    labels[index.ids()],
                    search_k,
                )
        for row, truth in enumerate(labels[held].tolist()):
            row_ids = top[row][np.argsort(-sims[row, top[row]])]
            dense = entry_scores(sims[row, row_ids], train_rows[row_ids], entry_of)
            held_out.append(_HeldOut(probs[row], dense, lexical[row], int(truth), fold))

    reranker = None if texts is None else _fit_reranker(held_out, fold_classes)
    features: list[np.ndarray] = []
    correct: list[bool] = []
    for item in held_out:
        entry_ids, class_of = fold_classes[item.fold]
        if reranker is None:
            f, best = _features(item.probs, item.dense, entry_ids)
        else:
            best, first, second = reranker.pick(
                item.probs, entry_ids, class_of, item.dense, item.lexical
            )
            f = _hybrid_features(
                item.probs, item.dense, item.lexical, entry_ids, best, first, second
            )
        features.append(f)
        correct.append(int(entry_ids[best]) == item.label)

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
        reranker=reranker,
    )
    return model, TrainingReport(
        model.method, len(labels), len(classes), len(y), errors, threshold, answer_rate, wrong_rate
    )


def _class_index(entry_ids: np.ndarray) -> dict[int, int]:
    return {int(e): i for i, e in enumerate(entry_ids.tolist())}


def _fit_reranker(
    held_out: Sequence[_HeldOut], fold_classes: dict[int, tuple[np.ndarray, dict[int, int]]]
) -> Reranker:
    """Learn from the held-out phrasings which of their plausible entries is the right one."""
    rows: list[np.ndarray] = []
    right: list[bool] = []
    for item in held_out:
        entry_ids, class_of = fold_classes[item.fold]
        candidates, features = _rerank_features(
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

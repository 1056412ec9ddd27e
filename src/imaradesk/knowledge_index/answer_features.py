"""What the answer models look at: features of one query's classifier probabilities and
retrieval scores, for the calibrator and for the hybrid reranker.

Shared by judging (``answer_models.py``) and training (``calibration.py``): both must compute
exactly the same numbers.
"""

from __future__ import annotations

import numpy as np

from imaradesk.knowledge_index.scores import EntryScores

# Entries the reranker considers: the classifier's best few, plus each ranker's best.
RERANK_FROM_CLASSIFIER = 5
RERANK_FROM_RANKERS = 3


def classifier_features(
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


def rerank_features(
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


def hybrid_features(
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

"""Searching one snapshot: dense nearest phrasings, BM25 in hybrid mode, the answer model.

The answer model judges; the candidates (what callers show as suggestions) are the best five
entries by dense similarity, or by the fused score in hybrid mode, with the judged entry first
when it is not among them.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from imaradesk.knowledge_index.answer_models import AnswerModel, Judgement
from imaradesk.knowledge_index.retrieval_types import (
    AnsweringSettings,
    Candidate,
    OrgKnowledge,
    Retrieval,
)
from imaradesk.knowledge_index.scores import (
    EntryScores,
    entry_scores,
    fuse,
    fused_scores,
    lexical_entry_scores,
)

_SHOWN = 5


def retrieve(
    snapshot: OrgKnowledge,
    vector: np.ndarray,
    text: str | None,
    answering: AnsweringSettings,
    *,
    judge: AnswerModel | None = None,
) -> Retrieval:
    """Judge and rank the snapshot's entries for one query (``text`` is needed for hybrid).

    ``judge`` replaces the snapshot's own answer model, for questions its calibration does not
    speak for (a language the FAQ has no phrasings in).
    """
    k = min(answering.search_candidates, max(len(snapshot.index), 1))
    scores, ids = snapshot.index.search(vector.reshape(1, -1), k)
    dense = entry_scores(scores[0], ids[0], snapshot.entry_of)
    if judge is not None:
        snapshot = replace(snapshot, model=judge)
    if snapshot.lexical is None or snapshot.lexical_entries is None:
        return _dense(snapshot, vector, dense, answering)
    return _hybrid(snapshot, vector, dense, text, answering)


def _dense(
    snapshot: OrgKnowledge, vector: np.ndarray, dense: EntryScores, answering: AnsweringSettings
) -> Retrieval:
    judgement = snapshot.model.judge(vector, dense, min_similarity=answering.min_answer_similarity)
    candidates = [
        Candidate(snapshot.entries[e], s)
        for e, s in dense.ranked()[:_SHOWN]
        if e in snapshot.entries
    ]
    if judgement.entry_id is not None and all(
        c.entry.entry_id != judgement.entry_id for c in candidates
    ):
        entry = snapshot.entries.get(judgement.entry_id)
        if entry is not None:
            candidates.insert(0, Candidate(entry, dense.of(entry.entry_id)))
    return Retrieval(judgement, tuple(candidates), vector)


def _hybrid(
    snapshot: OrgKnowledge,
    vector: np.ndarray,
    dense: EntryScores,
    text: str | None,
    answering: AnsweringSettings,
) -> Retrieval:
    assert snapshot.lexical is not None and snapshot.lexical_entries is not None
    phrasing_scores = snapshot.lexical.score_all([text or ""])[0]
    lexical = lexical_entry_scores(
        phrasing_scores[None, :], snapshot.lexical_entries, answering.search_candidates
    )[0]
    judgement: Judgement = snapshot.model.judge(
        vector, dense, min_similarity=answering.min_answer_similarity, lexical=lexical
    )
    # Ordered by the fused score, the judged entry first when it is not among the best (as
    # in dense mode).
    fused = fused_scores(dense, lexical)
    best = sorted(fused, key=lambda e: -fused[e])[:_SHOWN]
    best_lexical = lexical.ranked()[0][1] if lexical.by_entry else 0.0

    def candidate(entry_id: int) -> Candidate:
        return _hybrid_candidate(
            snapshot, vector, dense, lexical, phrasing_scores, best_lexical, entry_id
        )

    ordered = sorted(
        (candidate(e) for e in best if e in snapshot.entries), key=lambda c: -(c.fused or 0.0)
    )
    judged = judgement.entry_id
    if judged is not None and judged not in best and judged in snapshot.entries:
        ordered.insert(0, candidate(judged))
    return Retrieval(judgement, tuple(ordered), vector)


def _hybrid_candidate(
    snapshot: OrgKnowledge,
    vector: np.ndarray,
    dense: EntryScores,
    lexical: EntryScores,
    phrasing_scores: np.ndarray,
    best_lexical: float,
    entry_id: int,
) -> Candidate:
    # An entry BM25 alone found gets its own cosine (callers filter suggestions on it), and its
    # fused score is recomputed with it.
    similarity = _similarity(snapshot, vector, dense, entry_id)
    score = lexical.by_entry.get(entry_id)
    if score is None:
        rows = snapshot.lexical_entries == entry_id
        score = float(phrasing_scores[rows].max(initial=0.0))
    share = score / best_lexical if best_lexical > 0 else 0.0
    return Candidate(snapshot.entries[entry_id], similarity, score, fuse(similarity, share))


def _similarity(
    snapshot: OrgKnowledge, vector: np.ndarray, dense: EntryScores, entry_id: int
) -> float:
    # An entry found by BM25 alone has no cosine in the dense results: compute its own,
    # since callers filter suggestions on it.
    if entry_id in dense.by_entry:
        return dense.by_entry[entry_id]
    phrasings = snapshot.phrasings_of.get(entry_id, ())
    if not phrasings:
        return dense.floor
    return float(np.max(snapshot.index.vectors(list(phrasings)) @ vector))

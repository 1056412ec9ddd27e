"""Per-entry scores of one query: dense cosines and BM25 scores collapsed from phrasings to
entries, and the fused score that orders candidates."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Weight of BM25 (as a share of the query's best BM25 score) against the dense cosine in the
# fused score that orders candidates. Measured on BANKING77 (candidates' top-1/top-3 with 1, 3,
# 10 and all phrasings per entry): 0.1 was within 0.2 points of dense alone with one phrasing
# and better with 10 and all; 0.2-0.3 and reciprocal rank fusion did worse than dense, as BM25
# alone is far weaker there. Choosing the answer is the learned reranker's job, not this score's.
LEXICAL_WEIGHT = 0.1


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

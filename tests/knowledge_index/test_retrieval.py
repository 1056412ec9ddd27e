"""Searching a tiny snapshot built with the hashing embedder, in both retrieval modes."""

from __future__ import annotations

from imaradesk.knowledge_index.embedder import HashingEmbedder
from imaradesk.knowledge_index.retrieval import retrieve
from imaradesk.knowledge_index.retrieval_types import OrgKnowledge, Retrieval
from tests.knowledge_index.snapshots import ANSWERING, DENSE, build

EMBEDDER = HashingEmbedder()


def search(snapshot: OrgKnowledge, text: str, *, hybrid: bool = True) -> Retrieval:
    return retrieve(snapshot, EMBEDDER.embed([text])[0], text, ANSWERING if hybrid else DENSE)


def test_a_question_as_written_is_answered_from_its_entry() -> None:
    for answering, hybrid in ((ANSWERING, True), (DENSE, False)):
        result = search(build(answering), "How do I reset my PIN?", hybrid=hybrid)
        assert result.confident
        assert result.best is not None and result.best.external_id == "reset-pin"
        assert result.query is not None and result.query.shape == (EMBEDDER.dimension,)


def test_dense_candidates_are_ordered_by_similarity_without_lexical_scores() -> None:
    result = search(build(DENSE), "balance", hybrid=False)
    similarities = [c.similarity for c in result.candidates]
    assert similarities == sorted(similarities, reverse=True)
    assert all(c.lexical is None and c.fused is None for c in result.candidates)
    assert len(result.candidates) <= 5


def test_hybrid_candidates_carry_lexical_and_fused_scores_in_fused_order() -> None:
    result = search(build(), "salio langu")
    assert result.candidates[0].entry.external_id == "balance"
    assert result.candidates[0].lexical is not None and result.candidates[0].lexical > 0
    fused = [c.fused for c in result.candidates if c.entry.entry_id != result.judgement.entry_id]
    assert all(f is not None for f in fused)
    assert fused == sorted(fused, key=lambda f: -(f or 0.0))


def test_the_judged_entry_is_always_among_the_candidates() -> None:
    snapshot = build()
    for text in ("What is Fuliza?", "forgot PIN", "cost of sending", "hello"):
        result = search(snapshot, text)
        judged = result.judgement.entry_id
        assert judged is None or judged in {c.entry.entry_id for c in result.candidates}


def test_an_unrelated_question_is_not_answered() -> None:
    result = search(build(), "zzz qqq xxx")
    assert not result.confident

"""The answer model: calibrated where the data allows, similarity-and-margin where it does not."""

from __future__ import annotations

import numpy as np
import pytest

from imaradesk.knowledge_index.confidence import (
    HYBRID_METHOD,
    CalibratedClassifierModel,
    EntryScores,
    SimilarityMarginModel,
    entry_scores,
    fused_scores,
    lexical_entry_scores,
    load_answer_model,
    train_answer_model,
)
from imaradesk.knowledge_index.lexical import LexicalIndex


def clusters(n_entries: int, per_entry: int, *, noise: float, seed: int, centers=None):
    rng = np.random.default_rng(seed)
    if centers is None:
        centers = rng.normal(size=(n_entries, 64))
    rows = []
    labels = []
    for entry in range(n_entries):
        points = centers[entry] + rng.normal(scale=noise, size=(per_entry, 64))
        rows.append(points)
        labels += [1000 + entry] * per_entry
    vectors = np.vstack(rows)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors.astype(np.float32), np.array(labels), centers


def judge_all(
    model,
    train_vectors,
    train_labels,
    queries,
    *,
    min_similarity=0.0,
    train_texts=None,
    query_texts=None,
):
    """Judge each query as the knowledge base does: dense top 20, and BM25 when texts are given."""
    sims = queries @ train_vectors.T
    ids = np.arange(len(train_vectors))
    entry_of = {int(i): int(train_labels[i]) for i in ids}
    lexical = [None] * len(queries)
    if train_texts is not None:
        index = LexicalIndex.build(list(enumerate(train_texts)))
        lexical = lexical_entry_scores(
            index.score_all(query_texts), np.asarray(train_labels)[index.ids()], 20
        )
    out = []
    for row in range(len(queries)):
        order = np.argsort(-sims[row])[:20]
        out.append(
            model.judge(
                queries[row],
                entry_scores(sims[row, order], ids[order], entry_of),
                min_similarity=min_similarity,
                lexical=lexical[row],
            )
        )
    return out


def keyword_texts(labels, *, keyword_share: float, seed: int) -> list[str]:
    """Phrasings whose words carry what the vectors blur: the entry's own rare word (a product
    name), in ``keyword_share`` of them, among words every entry uses."""
    rng = np.random.default_rng(seed)
    common = [f"common{i}" for i in range(15)]
    texts = []
    for label in labels:
        words = list(rng.choice(common, size=4))
        if rng.random() < keyword_share:
            words.append(f"product{int(label)}")
        texts.append(" ".join(words))
    return texts


def train(vectors, labels, texts=None, target=0.05):
    return train_answer_model(
        vectors,
        labels,
        max_wrong_answer_rate=target,
        fallback_min_similarity=0.5,
        fallback_min_margin=0.06,
        search_k=20,
        texts=texts,
    )


def test_calibrated_model_keeps_wrong_answers_near_the_target_on_new_questions() -> None:
    vectors, labels, centers = clusters(30, 20, noise=2.0, seed=1)
    model, report = train_answer_model(
        vectors,
        labels,
        max_wrong_answer_rate=0.05,
        fallback_min_similarity=0.5,
        fallback_min_margin=0.06,
        search_k=20,
    )
    assert isinstance(model, CalibratedClassifierModel)
    assert report.held_out == 600 and report.held_out_wrong_rate <= 0.05
    assert not model.identity_calibration
    queries, truth, _ = clusters(30, 40, noise=2.0, seed=2, centers=centers)
    judgements = judge_all(model, vectors, labels, queries)
    answered = [j for j in judgements if j.confident]
    wrong = sum(j.entry_id != t for j, t in zip(judgements, truth, strict=True) if j.confident)
    raw_wrong = sum(j.entry_id != t for j, t in zip(judgements, truth, strict=True))
    assert raw_wrong / len(truth) > 0.10, "the task is hard enough for the threshold to matter"
    assert wrong / len(truth) <= 0.08
    assert len(answered) / len(truth) >= 0.5


def test_a_classifier_that_makes_no_held_out_mistakes_is_trusted_on_its_own_probability() -> None:
    vectors, labels, centers = clusters(20, 10, noise=0.6, seed=5)
    model, report = train_answer_model(
        vectors,
        labels,
        max_wrong_answer_rate=0.05,
        fallback_min_similarity=0.5,
        fallback_min_margin=0.06,
        search_k=20,
    )
    assert isinstance(model, CalibratedClassifierModel) and model.identity_calibration
    assert report.held_out_errors < 5
    queries, truth, _ = clusters(20, 20, noise=0.6, seed=6, centers=centers)
    judgements = judge_all(model, vectors, labels, queries)
    assert sum(
        j.confident and j.entry_id == t for j, t in zip(judgements, truth, strict=True)
    ) >= 0.9 * len(truth)


def test_too_few_phrasings_fall_back_to_similarity_and_margin() -> None:
    vectors, labels, _ = clusters(10, 2, noise=0.5, seed=3)
    model, report = train_answer_model(
        vectors,
        labels,
        max_wrong_answer_rate=0.05,
        fallback_min_similarity=0.5,
        fallback_min_margin=0.06,
        search_k=20,
    )
    assert isinstance(model, SimilarityMarginModel) and report.method == "similarity_margin"


def test_similarity_margin_rule() -> None:
    model = SimilarityMarginModel(min_top_similarity=0.5, min_margin=0.06)
    vector = np.zeros(4, dtype=np.float32)
    assert model.judge(vector, EntryScores({1: 0.8, 2: 0.6}, 0.1), min_similarity=0.45).confident
    assert not model.judge(
        vector, EntryScores({1: 0.8, 2: 0.77}, 0.1), min_similarity=0.45
    ).confident, "too close a second"
    assert not model.judge(vector, EntryScores({1: 0.48}, 0.1), min_similarity=0.45).confident, (
        "too far"
    )
    assert model.judge(vector, EntryScores({1: 0.7}, 0.1), min_similarity=0.45).confident, (
        "a lone entry has no rival"
    )
    assert model.judge(vector, EntryScores({}, -1.0), min_similarity=0.45).entry_id is None


@pytest.mark.parametrize("kind", ["calibrated", "fallback"])
def test_models_survive_a_round_trip_through_bytes(kind: str) -> None:
    if kind == "calibrated":
        vectors, labels, _ = clusters(30, 20, noise=2.0, seed=1)
    else:
        vectors, labels, _ = clusters(5, 1, noise=0.1, seed=1)
    model, _ = train_answer_model(
        vectors,
        labels,
        max_wrong_answer_rate=0.05,
        fallback_min_similarity=0.5,
        fallback_min_margin=0.06,
        search_k=20,
    )
    loaded = load_answer_model(model.to_bytes())
    assert type(loaded) is type(model)
    before = judge_all(model, vectors, labels, vectors[:50])
    after = judge_all(loaded, vectors, labels, vectors[:50])
    assert before == after


def test_hybrid_model_uses_rare_words_the_vectors_blur_and_keeps_the_wrong_answer_target() -> None:
    """Where the words say which entry and the vectors are noisy, the learned fusion must
    follow the words: more right answers than dense alone, with wrong answers still bounded by
    the held-out calibration."""
    vectors, labels, centers = clusters(30, 20, noise=2.5, seed=11)
    texts = keyword_texts(labels, keyword_share=0.6, seed=12)
    dense, _ = train(vectors, labels)
    hybrid, report = train(vectors, labels, texts)
    assert isinstance(hybrid, CalibratedClassifierModel) and hybrid.method == HYBRID_METHOD
    assert report.method == HYBRID_METHOD and report.held_out_wrong_rate <= 0.05

    queries, truth, _ = clusters(30, 30, noise=2.5, seed=13, centers=centers)
    query_texts = keyword_texts(truth, keyword_share=0.6, seed=14)
    by_dense = judge_all(dense, vectors, labels, queries)
    by_hybrid = judge_all(
        hybrid, vectors, labels, queries, train_texts=texts, query_texts=query_texts
    )

    def top1(judgements) -> float:
        return np.mean([j.entry_id == t for j, t in zip(judgements, truth, strict=True)])

    def answered(judgements, right: bool) -> float:
        return np.mean(
            [
                j.confident and (j.entry_id == t) == right
                for j, t in zip(judgements, truth, strict=True)
            ]
        )

    assert top1(by_hybrid) >= top1(by_dense) + 0.10
    assert answered(by_hybrid, True) >= answered(by_dense, True) + 0.10
    assert answered(by_hybrid, False) <= 0.06


def test_held_out_lexical_scores_come_from_an_index_without_the_held_out_phrasings() -> None:
    """Every phrasing has a word of its own. Were a held-out phrasing in its fold's BM25 index,
    it would find itself and the held-out folds would show almost no mistakes (a threshold far
    too trusting); without it, BM25 finds nothing and the mistakes are the dense ones."""
    vectors, labels, _ = clusters(30, 20, noise=2.0, seed=1)
    own_words = [f"unique{row}" for row in range(len(labels))]
    _, dense_report = train(vectors, labels)
    _, hybrid_report = train(vectors, labels, own_words)
    assert dense_report.held_out_errors > 30
    assert hybrid_report.held_out_errors >= 0.8 * dense_report.held_out_errors


def test_a_hybrid_model_survives_a_round_trip_through_bytes() -> None:
    vectors, labels, _ = clusters(30, 20, noise=2.5, seed=11)
    texts = keyword_texts(labels, keyword_share=0.6, seed=12)
    model, _ = train(vectors, labels, texts)
    loaded = load_answer_model(model.to_bytes())
    assert isinstance(loaded, CalibratedClassifierModel) and loaded.reranker is not None
    np.testing.assert_array_equal(loaded.reranker.weights, model.reranker.weights)
    kwargs = {"train_texts": texts, "query_texts": texts[:50]}
    assert judge_all(model, vectors, labels, vectors[:50], **kwargs) == judge_all(
        loaded, vectors, labels, vectors[:50], **kwargs
    )


def test_a_hybrid_model_without_lexical_evidence_still_judges() -> None:
    """A caller with only a vector (no text) gets a judgement, not an error."""
    vectors, labels, _ = clusters(30, 20, noise=2.5, seed=11)
    model, _ = train(vectors, labels, keyword_texts(labels, keyword_share=0.6, seed=12))
    judgement = judge_all(model, vectors, labels, vectors[:1])[0]
    assert judgement.entry_id in set(labels.tolist())


def test_small_knowledge_bases_keep_the_dense_rule_in_hybrid_mode() -> None:
    vectors, labels, _ = clusters(10, 2, noise=0.5, seed=3)
    model, report = train(vectors, labels, [f"text {i}" for i in range(len(labels))])
    assert isinstance(model, SimilarityMarginModel) and report.method == "similarity_margin"


def test_lexical_entry_scores_take_each_entrys_best_phrasing_and_keep_the_top_k() -> None:
    phrasing_entries = np.array([7, 7, 8, 9, 9, 10])
    matrix = np.array([[0.5, 2.0, 1.0, 0.0, 0.2, 0.0], [0.0] * 6], dtype=np.float32)
    first, empty = lexical_entry_scores(matrix, phrasing_entries, k=2)
    assert first.by_entry == {7: 2.0, 8: 1.0}
    assert first.floor == pytest.approx(0.2), "the best entry left out bounds the others"
    assert empty.by_entry == {} and empty.floor == 0.0


def test_the_fused_score_breaks_near_ties_by_words_but_keeps_a_clear_dense_lead() -> None:
    """BM25 is the weaker ranker on its own (BANKING77), so it only tips close calls."""
    dense = EntryScores({1: 0.80, 2: 0.79, 3: 0.50}, 0.30)
    lexical = EntryScores({2: 4.0, 3: 5.0, 4: 5.0}, 0.0)
    fused = fused_scores(dense, lexical)
    assert fused[2] > fused[1], "a near tie goes to the entry sharing rare words"
    assert fused[1] > fused[3], "the best BM25 score does not overturn a clear dense lead"
    assert fused[4] == pytest.approx(0.9 * 0.30 + 0.1), "found by BM25 alone: the dense floor"
    assert fused_scores(dense, EntryScores({}, 0.0)) == pytest.approx({1: 0.72, 2: 0.711, 3: 0.45})

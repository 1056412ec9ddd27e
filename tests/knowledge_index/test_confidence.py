"""The answer model: calibrated where the data allows, similarity-and-margin where it does not."""

from __future__ import annotations

import numpy as np
import pytest

from imaradesk.knowledge_index.confidence import (
    CalibratedClassifierModel,
    EntryScores,
    SimilarityMarginModel,
    entry_scores,
    load_answer_model,
    train_answer_model,
)


def clusters(n_entries: int, per_entry: int, *, noise: float, seed: int, centers=None):  # noqa: ANN001, ANN201
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


def judge_all(model, train_vectors, train_labels, queries, *, min_similarity=0.0):  # noqa: ANN001, ANN201
    sims = queries @ train_vectors.T
    ids = np.arange(len(train_vectors))
    entry_of = {int(i): int(train_labels[i]) for i in ids}
    out = []
    for row in range(len(queries)):
        order = np.argsort(-sims[row])[:20]
        out.append(
            model.judge(
                queries[row],
                entry_scores(sims[row, order], ids[order], entry_of),
                min_similarity=min_similarity,
            )
        )
    return out


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

"""The contrastive head: trained on an organization's own phrasings, folded into its classifier."""

from __future__ import annotations

import numpy as np

from imaradesk.knowledge_index import tuning
from imaradesk.knowledge_index.answer_models import CalibratedClassifierModel, load_answer_model
from imaradesk.knowledge_index.calibration import train_answer_model


def _phrasings(entries: int = 12, per_entry: int = 10, dim: int = 32, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(entries, dim))
    labels = np.repeat(np.arange(entries), per_entry)
    vectors = centres[labels] + rng.normal(scale=1.2, size=(len(labels), dim))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors.astype(np.float32), labels


def _train(vectors, labels, *, tune):
    return train_answer_model(
        vectors,
        labels.tolist(),
        max_wrong_answer_rate=0.03,
        fallback_min_similarity=0.5,
        fallback_min_margin=0.06,
        search_k=20,
        tune=tune,
    )


def test_projection_starts_from_identity_and_pulls_an_entry_together():
    vectors, labels = _phrasings()
    projection = tuning.fit_projection(vectors, labels)
    assert projection.shape == (32, 32)

    def spread(z: np.ndarray) -> float:
        z = z / np.linalg.norm(z, axis=1, keepdims=True)
        same = labels[:, None] == labels[None, :]
        sims = z @ z.T
        return float(sims[same].mean() - sims[~same].mean())

    assert spread(vectors @ projection.T) > spread(vectors)


def test_projection_is_deterministic():
    vectors, labels = _phrasings()
    assert np.array_equal(
        tuning.fit_projection(vectors, labels), tuning.fit_projection(vectors, labels)
    )


def test_tuned_model_keeps_the_plain_format_and_says_it_is_tuned():
    vectors, labels = _phrasings()
    model, report = _train(vectors, labels, tune=True)
    assert report.tuned
    assert isinstance(model, CalibratedClassifierModel)
    assert model.weights.shape == (12, 32)
    # The head is folded into the weights: the persisted model is the usual one.
    loaded = load_answer_model(model.to_bytes())
    assert isinstance(loaded, CalibratedClassifierModel)
    assert np.allclose(loaded.weights, model.weights)


def test_no_tuning_when_not_allowed_or_too_large(monkeypatch):
    vectors, labels = _phrasings()
    untuned, report = _train(vectors, labels, tune=False)
    assert not report.tuned
    monkeypatch.setattr(tuning, "HEAD_MAX_PHRASINGS", len(labels) - 1)
    _, large = _train(vectors, labels, tune=True)
    assert not large.tuned
    assert isinstance(untuned, CalibratedClassifierModel)


def test_opt_out_is_respected_unless_the_admin_opts_in():
    assert tuning.tuning_allowed(exclude_from_training=False)
    assert not tuning.tuning_allowed(exclude_from_training=True)
    assert tuning.tuning_allowed(exclude_from_training=True, tuning_opt_in=True)

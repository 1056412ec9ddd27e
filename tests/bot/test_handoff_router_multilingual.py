"""Handoffs in Swahili and Sheng: topic by meaning on the multilingual encoder, frustration
from the classifier, the language on the handoff the agent sees; English as before; and the
lexicon alone when the multilingual encoder is off. Real encoders, real SQLite."""

from __future__ import annotations

import pytest
from sqlmodel import select

from imaradesk.console.setup import DeskSetup
from imaradesk.policies.sentiment import LexiconSentiment, MultilingualSentiment
from imaradesk.services import build_services
from imaradesk.storage.db import Database
from imaradesk.storage.models import Handoff
from tests.conftest import TEST_KEYRING, make_settings
from tests.helpers import Chat, seed_org
from tests.web.console_helpers import ConsoleSession

BILINGUAL_FAQ = """id,category,language,question,answer
reset-pin,Security,en,How do I reset my PIN?,Dial *483*7# and follow the prompts.
reset-pin,Security,en,I forgot my PIN,
reset-pin,Security,sw,Nimesahau PIN yangu,Piga *483*7# na ufuate maelekezo.
reset-pin,Security,sw,Nitabadilishaje PIN yangu?,
send-money,Payments,en,How do I send money to another number?,Choose Send Money and enter the number.
send-money,Payments,sw,Nitatumaje pesa kwa namba nyingine?,Chagua Tuma Pesa na uweke namba.
loan,Loans,en,How can I borrow money?,Open Loans in the app to see your limit.
loan,Loans,en,When must I repay my loan?,
loan,Loans,sw,Ninawezaje kukopa pesa?,Fungua Mikopo kwenye app kuona kikomo chako.
loan,Loans,sw,Nitalipa mkopo lini?,
balance,Account,en,How do I check my balance?,Dial *483*1# to see your balance.
balance,Account,sw,Nitaangaliaje salio langu?,Piga *483*1# kuona salio lako.
"""
PASSWORD = "long enough pw"

pytestmark = pytest.mark.slow


def setup_org(services):
    org = seed_org(services, "acme", faq_csv=BILINGUAL_FAQ, name="Acme Wallet")
    setup = DeskSetup(services.database)
    # English keywords and examples only: Swahili reaches the rule by meaning.
    setup.add_topic_rule(
        org.id,
        topic="fraud",
        keywords=["scam", "hacked"],
        team="Security",
        priority=1,
        always_human=True,
        examples=[
            "someone called pretending to be from your company and asked for my PIN",
            "I got a message saying I won money and must pay a fee first",
            "there is a transaction on my account that I did not make",
        ],
    )
    setup.add_language_rule(org.id, language="sw", team="Swahili desk")
    for email, team, languages in (
        ("security@acme.example", "Security", ["en", "sw"]),
        ("swahili@acme.example", "Swahili desk", ["sw"]),
    ):
        services.accounts.create(
            org.id,
            email=email,
            name=email.split("@")[0],
            role="agent",
            team=team,
            languages=languages,
            password=PASSWORD,
            verified=True,
        )
    return services.organizations.by_slug("acme")


@pytest.fixture
def bilingual(make_services, sqlite_database, real_embedder, real_multilingual_embedder):
    services = make_services(
        sqlite_database, embedder=real_embedder, multilingual_embedder=real_multilingual_embedder
    )
    return services, setup_org(services)


@pytest.fixture
def english_only(tmp_path, clock, real_embedder):
    """The same organization on a service with the multilingual encoder off (its own files)."""
    services = build_services(
        make_settings(tmp_path / "off", multilingual_model="off"),
        embedder=real_embedder,
        clock=clock,
        database=Database.from_url(f"sqlite:///{tmp_path / 'off.db'}", keyring=TEST_KEYRING),
    )
    yield services, setup_org(services)
    services.close()


def classify(services, org, text: str):
    return services.router.classify(org, text, [], use_model=True)


def handoffs(services) -> list[Handoff]:
    with services.database.read() as session:
        return list(session.exec(select(Handoff).order_by(Handoff.id)).all())


def test_a_swahili_fraud_message_reaches_the_fraud_team_by_meaning(bilingual) -> None:
    services, org = bilingual
    text = "Mtu alinipigia simu akisema ni wa Acme Wallet, akaniomba nimtumie PIN yangu"
    c = classify(services, org, text)
    assert (c.topic, c.language, c.urgency) == ("fraud", "sw", "high")
    assert "topic fraud (like the routing rule's examples)" in c.reasons
    # Through the dialogue: an always-human topic, to the Security team, not the Swahili desk.
    Chat(services, "acme").send(text)
    [handoff] = handoffs(services)
    assert (handoff.reason, handoff.topic, handoff.language) == (
        "always_human_topic",
        "fraud",
        "sw",
    )
    assert "team by topic fraud" in handoff.routing_reasons


@pytest.mark.parametrize(
    "text",
    [
        "Huduma yenu ni mbovu kabisa, mmenipotezea siku nzima na hakuna anayejali",
        "Nyinyi ni wezi tu, kila siku mnakata doh yangu bila sababu, nimechoka na hii app",
    ],
)
def test_angry_swahili_and_sheng_are_urgent(bilingual, text: str) -> None:
    services, org = bilingual
    assert isinstance(services.router.sentiment, MultilingualSentiment)
    c = classify(services, org, text)
    assert c.frustrated and c.urgency == "high" and c.language == "sw"
    assert "urgent: frustrated" in c.reasons


def test_calm_swahili_bad_news_is_not_urgent(bilingual) -> None:
    services, org = bilingual
    c = classify(
        services,
        org,
        "Nimepoteza kazi mwezi huu, naomba kujua kama naweza kusogeza tarehe ya kulipa mkopo",
    )
    assert (c.topic, c.language, c.urgency, c.frustrated) == ("Loans", "sw", "normal", False)


@pytest.mark.parametrize(
    ("text", "topic", "urgency"),
    [
        ("someone called me pretending to be from Acme and asked for my PIN", "fraud", "high"),
        ("I think this is a scam", "fraud", "high"),
        ("How do I check my balance?", "Account", "normal"),
        ("this is the third time I am asking how to reset my PIN!!!", "Security", "high"),
    ],
)
def test_english_is_classified_as_without_the_multilingual_encoder(
    bilingual, english_only, text: str, topic: str, urgency: str
) -> None:
    for services, org in (bilingual, english_only):
        c = classify(services, org, text)
        assert (c.topic, c.language, c.urgency) == (topic, "en", urgency)


def test_with_the_multilingual_encoder_off_the_lexicon_reads_as_before(english_only) -> None:
    services, org = english_only
    assert isinstance(services.router.sentiment, LexiconSentiment)
    # VADER reads no Swahili: without the classifier, anger without "!!!" or caps is missed.
    c = classify(services, org, "Huduma yenu ni mbovu kabisa, mmenipotezea siku nzima")
    assert (c.language, c.frustrated) == ("sw", False)


def test_the_agent_sees_the_language_of_a_swahili_handoff(bilingual, live_server_factory) -> None:
    services, org = bilingual
    Chat(services, "acme").send("nataka kuongea na mtu tafadhali, pesa yangu haijafika")
    [handoff] = handoffs(services)
    assert handoff.language == "sw" and "language sw" in handoff.routing_reasons
    server = live_server_factory(services)
    session = ConsoleSession(server.url)
    assert session.login("swahili@acme.example", PASSWORD).status_code == 200
    inbox = session.get("/console/").text
    assert "· SW" in inbox
    assert "language sw" in session.get(f"/console/handoffs/{handoff.id}").text

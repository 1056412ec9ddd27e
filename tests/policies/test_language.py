"""The customer's language: detection (Sheng and code-switching count as Swahili), asking for a
language in the chat, and the precedence that decides a turn's reply language.

The messages below were written for these tests: what Kenyan customers of a mobile-money wallet
write, in Swahili, Sheng, Swahili mixed with English, and English (some with a brand name).
"""

from __future__ import annotations

import pytest
from lingua import Language, LanguageDetectorBuilder

from imaradesk.policies.language import (
    LanguageDetector,
    ReplyLanguage,
    reply_language,
    requested_language,
)

SWAHILI = [
    "Nimesahau PIN yangu, nifanye nini?",
    "Ninawezaje kuangalia salio langu?",
    "Pesa niliyotuma jana haijafika kwa mpokeaji",
    "Naomba msaada wa kufungua akaunti mpya",
    "Akaunti yangu imefungwa bila sababu",
    "Gharama ya kutuma pesa ni kiasi gani?",
    "Nataka kubadilisha nambari yangu ya simu",
    "Simu yangu imeibiwa, tafadhali zuieni akaunti",
    "Je, ninaweza kulipa karo ya shule kupitia kwenu?",
    "Nimekatwa pesa mara mbili kwa muamala mmoja",
    "Habari za asubuhi, nahitaji taarifa ya miezi mitatu",
    "Wakala wa karibu yuko wapi mjini Kisumu?",
]
SHENG = [
    "Niaje, nataka kujua jinsi ya kureset PIN yangu",
    "Sasa msee, nimetuma doh kwa number wrong",
    "Bro nimesend money lakini haijafika",
    "Mbona mnakata ngiri mbili kwa transaction moja",
    "Hii app iko na shida, haifunguki kabisa",
    "Naweza change number yangu aje?",
    "Manze account yangu imeblockiwa, nisaidieni",
    "Nimejaribu mara tatu na inakataa tu",
    "Customer care mko wapi bana",
    "Ka-loan yangu imefika due date?",
]
CODE_SWITCHED = [
    "Nimeblock card yangu by mistake",
    "Niko na issue na login ya app",
    "Nisaidie kureset password yangu",
    "Nataka kuclose account yangu",
    "Pesa imeingia wrong account, nifanye aje",
    "Statement yangu ya March haionyeshi transactions zote",
    "Nimesahau PIN, how do I reset?",
    "Good morning, naomba msaada na balance",
    "Fees za withdrawal ni ngapi?",
    "Hii ni scam, mtu amenipigia akisema ni nyinyi",
]
ENGLISH = [
    "How do I reset my PIN?",
    "I sent money to the wrong number",
    "What are your fees for withdrawals?",
    "My account is blocked and I do not know why",
    "Can I change the phone number on my account",
    "Where is the nearest agent in Nakuru?",
    "I want to talk to a person",
    "The app keeps crashing when I log in",
    "Please send me a statement for last month",
    "Is there a limit on daily transfers?",
    "I was charged twice for one payment",
    "How long does a reversal take?",
]
# English with a brand name that is Swahili: the organization's name says nothing.
ORG = "Imara Pesa"
ENGLISH_WITH_THE_BRAND = [
    "How do I top up my Imara Pesa wallet?",
    "how do i top up my imara pesa wallet",
    "Can I pay bills with imara pesa?",
    "Is Imara Pesa available in Uganda?",
]
# Too short or too mixed to say: the remembered language decides these.
UNCLEAR = [
    "ok",
    "1",
    "STOP",
    "asante",
    "sawa",
    "ok ok",
    "thanks bro",
    "yes please",
    "Statement ya March",
]


@pytest.fixture(scope="module")
def detector() -> LanguageDetector:
    return LanguageDetector()


def _share(detector: LanguageDetector, texts: list[str], language: str) -> float:
    return sum(detector.language_of(t, names=(ORG,)) == language for t in texts) / len(texts)


def test_swahili_sheng_and_code_switched_messages_are_swahili(detector) -> None:
    assert _share(detector, SWAHILI, "sw") == 1.0
    assert _share(detector, SHENG, "sw") == 1.0
    assert _share(detector, CODE_SWITCHED, "sw") >= 0.9


def test_english_is_english_and_never_swahili(detector) -> None:
    assert _share(detector, ENGLISH, "en") == 1.0
    seen = [detector.language_of(text, names=(ORG,)) for text in ENGLISH_WITH_THE_BRAND]
    assert "sw" not in seen and seen.count("en") >= 3, seen


def test_code_switching_is_what_lingua_alone_misses(detector) -> None:
    """The reason for the word-level evidence: lingua on the whole message calls most of these
    English, a Swahili customer would then get English replies."""
    lingua = LanguageDetectorBuilder.from_languages(Language.ENGLISH, Language.SWAHILI).build()
    plain = sum(lingua.detect_language_of(t) is Language.SWAHILI for t in CODE_SWITCHED)
    ours = sum(detector.language_of(t) == "sw" for t in CODE_SWITCHED)
    assert plain <= len(CODE_SWITCHED) // 2 < ours


@pytest.mark.parametrize("text", UNCLEAR)
def test_short_or_unclear_messages_have_no_language(detector, text: str) -> None:
    assert detector.language_of(text) is None
    assert detector.detect(text) == "en", "detect falls back to the default"


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("ongea Kiswahili", "sw"),
        ("kwa Kiswahili tafadhali", "sw"),
        ("naomba Kiswahili", "sw"),
        ("Naomba unijibu kwa Kiswahili", "sw"),
        ("ongea na mimi kwa kiswahili", "sw"),
        ("Reply in Swahili please", "sw"),
        ("Do you speak Swahili?", "sw"),
        ("Kiswahili", "sw"),
        ("English please", "en"),
        ("speak English", "en"),
        ("in English", "en"),
        ("Can you speak English?", "en"),
        ("Can we switch to English", "en"),
        ("tuongee kwa Kiingereza", "en"),
        ("kimombo tafadhali", "en"),
        ("In English please, thanks", "en"),
    ],
)
def test_asking_for_a_language(text: str, language: str) -> None:
    assert requested_language(text) == language


@pytest.mark.parametrize(
    "text",
    [
        "Is there an English version of the app?",
        "I don't speak English",
        "How do I change my language to English",  # a rectification, answered as one
        "Kiswahili ni lugha nzuri",
        "My English is not good, can you help me with my PIN?",
        "hello",
        "",
    ],
)
def test_mentioning_a_language_is_not_asking_for_it(text: str) -> None:
    assert requested_language(text) is None


# -- the precedence -------------------------------------------------------------------------


def test_a_language_the_customer_chose_wins_over_what_they_write() -> None:
    chosen = reply_language(remembered="en", chosen=True, seen="sw")
    assert chosen == ReplyLanguage("en", chosen=True)


def test_a_plain_switch_changes_the_language_and_is_remembered() -> None:
    switched = reply_language(remembered="en", chosen=False, seen="sw")
    assert switched == ReplyLanguage("sw", chosen=False, remember="sw")


def test_a_short_message_keeps_the_remembered_language() -> None:
    kept = reply_language(remembered="sw", chosen=False, seen=None, hint="en")
    assert kept == ReplyLanguage("sw", chosen=False)


def test_with_nothing_remembered_a_greeting_hints_and_english_is_the_default() -> None:
    assert reply_language(remembered=None, chosen=False, seen=None, hint="sw") == ReplyLanguage(
        "sw", chosen=False, remember="sw"
    )
    assert reply_language(remembered=None, chosen=False, seen=None) == ReplyLanguage(
        "en", chosen=False
    )


def test_a_language_we_do_not_write_is_no_reply_language() -> None:
    assert reply_language(remembered="fr", chosen=True, seen=None).code == "en"

"""Routing decisions on their own: classification, team and agent choice."""

from __future__ import annotations

import pytest

from imaradesk.policies.routing import (
    AgentLoad,
    LanguageDetector,
    Rule,
    SentimentAnalyzer,
    choose_agent,
    choose_team,
    classify,
)

FRAUD = Rule(
    "topic",
    "fraud",
    ("scam", "hacked", "utapeli"),
    (),
    team_id=1,
    priority=1,
    always_human=True,
    position=1,
)
MONEY = Rule(
    "topic",
    "lost money",
    ("not received", "pesa imepotea"),
    (),
    team_id=2,
    priority=1,
    always_human=False,
    position=2,
)
SWAHILI = Rule("language", "sw", (), (), team_id=3, priority=0, always_human=False, position=3)
RULES = (FRAUD, MONEY, SWAHILI)


@pytest.fixture(scope="module")
def tools() -> tuple[LanguageDetector, SentimentAnalyzer]:
    return LanguageDetector(), SentimentAnalyzer()


def run(text: str, tools, category: str | None = None, recent: tuple[str, ...] = ()):
    language, sentiment = tools
    return classify(
        text, recent, rules=RULES, kb_category=category, language=language, sentiment=sentiment
    )


def test_keyword_topics_win_and_make_it_urgent(tools) -> None:
    c = run("I think this is a scam, someone hacked my wallet", tools, category="Payments")
    assert (c.topic, c.urgency, c.topic_rule) == ("fraud", "high", FRAUD)
    assert choose_team(c, RULES).team_id == 1


def test_without_a_rule_the_faq_category_is_the_topic(tools) -> None:
    c = run("How do I pay my electricity bill?", tools, category="Payments")
    assert (c.topic, c.urgency, c.language) == ("Payments", "normal", "en")
    assert choose_team(c, RULES).team_id is None


def test_language_routes_when_the_topic_does_not(tools) -> None:
    c = run("Habari, nataka kujua jinsi ya kulipa bili ya maji", tools, category="Payments")
    assert c.language == "sw"
    assert choose_team(c, RULES).team_id == 3


def test_earlier_messages_count_for_the_topic(tools) -> None:
    c = run("nataka kuongea na mtu", tools, recent=("pesa imepotea tangu jana",))
    assert c.topic == "lost money" and c.language == "sw"


@pytest.mark.parametrize(
    ("text", "frustrated"),
    [
        ("this is the third time I am asking!!!", True),
        ("I HAVE BEEN WAITING FOR HOURS AND NOBODY ANSWERS!!!", True),
        ("I have asked three times and this is ridiculous", True),
        ("You are useless, the worst service I have ever had, I hate this", True),
        ("I sent money to the wrong number by mistake, can you help?", False),
        ("How do I check my balance?", False),
        ("THANK YOU SO MUCH!!!", False),
    ],
)
def test_frustration(text: str, frustrated: bool, tools) -> None:
    assert tools[1].analyse(text).frustrated is frustrated


def test_the_least_loaded_available_agent_who_speaks_the_language_gets_it() -> None:
    agents = [
        AgentLoad(1, team_id=2, languages=("en",), available=True, open_handoffs=0),
        AgentLoad(2, team_id=2, languages=("en", "sw"), available=True, open_handoffs=3),
        AgentLoad(3, team_id=2, languages=("en", "sw"), available=True, open_handoffs=1),
        AgentLoad(4, team_id=2, languages=("sw",), available=False, open_handoffs=0),
        AgentLoad(5, team_id=9, languages=("sw",), available=True, open_handoffs=0),
    ]
    assert choose_agent(2, "sw", agents).agent_id == 3
    assert choose_agent(2, "en", agents).agent_id == 1
    assert choose_agent(7, "en", agents) is None, "nobody in that team: it waits in the queue"
    assert choose_agent(None, "sw", agents).agent_id == 5


def test_the_organizations_name_is_no_sign_of_swahili(tools) -> None:
    language, sentiment = tools
    text = "how do i pay my water bill using imara pesa"
    assert language.detect(text) == "sw", "pesa reads as Swahili on its own"
    c = classify(
        text,
        (),
        rules=RULES,
        kb_category="Payments",
        language=language,
        sentiment=sentiment,
        names=("Imara Pesa",),
    )
    assert c.language == "en"

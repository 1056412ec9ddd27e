"""Classifying a conversation that needs a person, and choosing the team and the agent.

Topic comes from the organization's routing rules (their keywords) or, failing that, the
knowledge-base category of the closest entry; language from lingua (English and Swahili);
sentiment from a ``policies.sentiment`` reader (a classifier over multilingual sentence vectors
that reads Swahili and Sheng, or VADER with the signs of frustration a lexicon misses:
shouting, "!!!", "third time"). Urgency is high for topics the organization ranks high (fraud,
lost money) and for frustrated customers. Routing: the first matching rule picks the team (topic before language);
the least-loaded available agent of that team who speaks the language gets it; if nobody is
available, it waits in the team's queue with its priority.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from imaradesk.policies.language import SUPPORTED_LANGUAGES as SUPPORTED_LANGUAGES
from imaradesk.policies.language import LanguageDetector as LanguageDetector
from imaradesk.policies.sentiment import LexiconSentiment as LexiconSentiment
from imaradesk.policies.sentiment import Sentiment as Sentiment
from imaradesk.policies.sentiment import SentimentReader as SentimentReader
from imaradesk.policies.text import fold

# The lexicon reader was this module's; its old name stays for callers.
SentimentAnalyzer = LexiconSentiment


@dataclass(frozen=True)
class Rule:
    kind: str  # "topic" or "language"
    value: str
    keywords: tuple[str, ...]
    examples: tuple[str, ...]
    team_id: int | None
    priority: int
    always_human: bool
    position: int


@dataclass(frozen=True)
class Classification:
    topic: str | None
    language: str
    sentiment: float
    frustrated: bool
    urgency: str
    topic_rule: Rule | None
    reasons: tuple[str, ...]


def match_topic(texts: Sequence[str], rules: Sequence[Rule]) -> Rule | None:
    """The first topic rule whose keywords appear in the customer's messages."""
    folded = " ".join(fold(t) for t in texts)
    for rule in sorted((r for r in rules if r.kind == "topic"), key=lambda r: r.position):
        for keyword in rule.keywords:
            if re.search(rf"(?<!\w){re.escape(fold(keyword))}(?!\w)", folded):
                return rule
    return None


def classify(
    latest: str,
    recent: Sequence[str],
    *,
    rules: Sequence[Rule],
    kb_category: str | None,
    language: LanguageDetector,
    sentiment: SentimentReader,
    similar_topic: Rule | None = None,
    feeling: Sentiment | None = None,
    names: Sequence[str] = (),
) -> Classification:
    """Classify a conversation from its latest and recent customer messages.

    ``similar_topic`` is the topic rule whose examples the message resembles, when the caller
    measured that (see bot.handoff_router); keywords win over it, and it over the FAQ category.
    ``feeling`` is the latest message's sentiment, when the caller has read it already;
    ``names`` (the organization's) say nothing of the language: "my imara pesa account".
    """
    texts = [*recent, latest]
    topic_rule = match_topic(texts, rules)
    reasons: list[str] = []
    if topic_rule is not None:
        topic = topic_rule.value
        reasons.append(f"topic {topic} (routing rule)")
    elif similar_topic is not None:
        topic_rule = similar_topic
        topic = similar_topic.value
        reasons.append(f"topic {topic} (like the routing rule's examples)")
    elif kb_category:
        topic = kb_category
        reasons.append(f"topic {topic} (closest FAQ entry)")
    else:
        topic = None
    said = " ".join(t for t in texts[-3:] if t)
    # Short or unclear: the detector's default (detect says it for a text of no words).
    detected = language.language_of(said, names=names) or language.detect("")
    reasons.append(f"language {detected}")
    feeling = feeling or sentiment.analyse(latest)
    if feeling.signals:
        reasons.append("sentiment: " + ", ".join(feeling.signals))
    high = (topic_rule is not None and topic_rule.priority > 0) or feeling.frustrated
    if high:
        reasons.append(
            "urgent: "
            + ("high-priority topic" if topic_rule and topic_rule.priority > 0 else "frustrated")
        )
    return Classification(
        topic=topic,
        language=detected,
        sentiment=feeling.score,
        frustrated=feeling.frustrated,
        urgency="high" if high else "normal",
        topic_rule=topic_rule,
        reasons=tuple(reasons),
    )


@dataclass(frozen=True)
class TeamChoice:
    team_id: int | None
    priority: int
    reason: str


def choose_team(classification: Classification, rules: Sequence[Rule]) -> TeamChoice:
    """Topic rules first, then language rules; no match leaves the default queue."""
    base = 1 if classification.urgency == "high" else 0
    ordered = sorted(rules, key=lambda r: (r.kind != "topic", r.position))
    for rule in ordered:
        if rule.team_id is None:
            continue
        if rule.kind == "topic" and classification.topic and rule.value == classification.topic:
            return TeamChoice(rule.team_id, max(base, rule.priority), f"team by topic {rule.value}")
        if rule.kind == "language" and rule.value == classification.language:
            return TeamChoice(
                rule.team_id, max(base, rule.priority), f"team by language {rule.value}"
            )
    return TeamChoice(None, base, "no rule matched: general queue")


@dataclass(frozen=True)
class AgentLoad:
    agent_id: int
    team_id: int | None
    languages: tuple[str, ...]
    available: bool
    open_handoffs: int


def choose_agent(
    team_id: int | None, language: str, agents: Sequence[AgentLoad]
) -> AgentLoad | None:
    """The least-loaded available agent of the team who speaks the language."""
    candidates = [
        a
        for a in agents
        if a.available
        and (team_id is None or a.team_id == team_id)
        and (not a.languages or language in a.languages)
    ]
    if not candidates:
        return None
    return min(candidates, key=lambda a: (a.open_handoffs, a.agent_id))

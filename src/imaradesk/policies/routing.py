"""Classifying a conversation that needs a person, and choosing the team and the agent.

Topic comes from the organization's routing rules (their keywords) or, failing that, the
knowledge-base category of the closest entry; language from lingua (English and Swahili);
sentiment from VADER, with the signs of frustration that a lexicon misses (shouting, "!!!",
"third time"). Urgency is high for topics the organization ranks high (fraud, lost money) and
for angry customers. Routing: the first matching rule picks the team (topic before language);
the least-loaded available agent of that team who speaks the language gets it; if nobody is
available, it waits in the team's queue with its priority.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Protocol

from imaradesk.policies.language import SUPPORTED_LANGUAGES as SUPPORTED_LANGUAGES
from imaradesk.policies.language import LanguageDetector as LanguageDetector
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


@dataclass(frozen=True)
class Sentiment:
    score: float  # VADER compound, -1 (negative) to 1 (positive)
    frustrated: bool
    signals: tuple[str, ...]


class _PolarityScorer(Protocol):
    def polarity_scores(self, text: str) -> dict[str, float]: ...


class SentimentAnalyzer:
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
    sentiment: SentimentAnalyzer,
    similar_topic: Rule | None = None,
) -> Classification:
    """Classify a conversation from its latest and recent customer messages.

    ``similar_topic`` is the topic rule whose examples the message resembles, when the caller
    measured that (see bot.handoff_router); keywords win over it, and it over the FAQ category.
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
    detected = language.detect(" ".join(t for t in texts[-3:] if t))
    reasons.append(f"language {detected}")
    feeling = sentiment.analyse(latest)
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

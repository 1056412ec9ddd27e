"""Plans where a handoff goes: its classification, team, agent, summary and suggested replies."""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from imaradesk.bot.context import RoutingSignals
from imaradesk.knowledge_index.knowledge_base import KnowledgeBase, Retrieval
from imaradesk.policies.routing import (
    AgentLoad,
    Classification,
    LanguageDetector,
    Rule,
    Sentiment,
    SentimentAnalyzer,
    choose_agent,
    choose_team,
    classify,
)
from imaradesk.storage.db import Database
from imaradesk.storage.models import Organization
from imaradesk.storage.routing_repository import RoutingData

SUMMARY_SENTENCES = 3
RULES_TTL_SECONDS = 2.0
# A message this close to a topic's example (and closer than to any FAQ entry) is that topic.
TOPIC_MIN_SIMILARITY = 0.55
TOPIC_MARGIN_OVER_FAQ = 0.03
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")


@dataclass(frozen=True)
class HandoffPlan:
    classification: Classification
    team_id: int | None
    agent_id: int | None
    priority: int
    reasons: tuple[str, ...]
    summary: str
    suggested_entry_ids: tuple[int, ...]


class HandoffRouter:
    def __init__(
        self,
        *,
        database: Database,
        knowledge: KnowledgeBase,
        language: LanguageDetector | None = None,
        sentiment: SentimentAnalyzer | None = None,
    ) -> None:
        self._db = database
        self._knowledge = knowledge
        self.language = language or LanguageDetector()
        self.sentiment = sentiment or SentimentAnalyzer()
        self._example_vectors: dict[tuple[int, tuple[str, ...]], np.ndarray] = {}
        self._rules_cache: dict[int, tuple[float, list[Rule]]] = {}

    def signals(self, org: Organization) -> RoutingSignals:
        return _OrgSignals(self, org)

    def detect_language(self, text: str) -> str:
        return self.language.detect(text)

    def topic_like(
        self, org: Organization, text: str, retrieval: Retrieval | None = None
    ) -> Rule | None:
        """The topic rule whose examples ``text`` resembles more than any FAQ entry."""
        assert org.id is not None
        rules = [r for r in self.rules(org.id) if r.kind == "topic" and r.examples]
        if not rules or not text.strip():
            return None
        examples = [(rule, example) for rule in rules for example in rule.examples]
        key = (org.id, tuple(e for _, e in examples))
        vectors = self._example_vectors.get(key)
        if vectors is None:
            vectors = self._knowledge.embedder.embed([e for _, e in examples])
            self._example_vectors = {key: vectors}  # one organization's set at a time is plenty
        if retrieval is None:
            retrieval = self._knowledge.search(org.id, text, revision=org.kb_revision)
        # The examples' vectors are the main encoder's; a multilingual search's query is not.
        same_encoder = retrieval.encoder in ("", self._knowledge.embedder.name)
        query = (
            retrieval.query
            if retrieval.query is not None and same_encoder
            else self._knowledge.embedder.embed([text])[0]
        )
        similarities = vectors @ query
        best = int(np.argmax(similarities))
        faq_best = retrieval.candidates[0].similarity if retrieval.candidates else 0.0
        if (
            similarities[best] >= TOPIC_MIN_SIMILARITY
            and similarities[best] >= faq_best + TOPIC_MARGIN_OVER_FAQ
        ):
            return examples[best][0]
        return None

    def rules(self, org_id: int) -> list[Rule]:
        """The organization's routing rules; read at most every few seconds (every message asks)."""
        cached = self._rules_cache.get(org_id)
        now = time.monotonic()
        if cached is not None and cached[0] > now:
            return cached[1]
        rules = self._read_rules(org_id)
        self._rules_cache[org_id] = (now + RULES_TTL_SECONDS, rules)
        return rules

    def _read_rules(self, org_id: int) -> list[Rule]:
        with self._db.read() as session:
            rows = RoutingData(session, org_id).rules()
        return [
            Rule(
                kind=r.kind,
                value=r.value,
                keywords=tuple(r.keywords),
                examples=tuple(r.examples),
                team_id=r.team_id,
                priority=r.priority,
                always_human=r.always_human,
                position=r.position,
            )
            for r in rows
        ]

    def classify(
        self,
        org: Organization,
        latest: str,
        recent: Sequence[str],
        *,
        use_model: bool,
        retrieval: Retrieval | None = None,
    ) -> Classification:
        assert org.id is not None
        category = None
        similar = None
        if use_model and latest.strip():
            if retrieval is None:
                retrieval = self._knowledge.search(org.id, latest, revision=org.kb_revision)
            category = retrieval.candidates[0].entry.category if retrieval.candidates else None
            similar = self.topic_like(org, latest, retrieval)
        return classify(
            latest,
            recent,
            rules=self.rules(org.id),
            kb_category=category,
            language=self.language,
            sentiment=self.sentiment,
            similar_topic=similar,
        )

    def plan(
        self,
        org: Organization,
        *,
        trigger: str,
        latest: str,
        recent: Sequence[str],
        use_model: bool,
        retrieval: Retrieval | None = None,
    ) -> HandoffPlan:
        """Route one handoff. ``use_model`` is False for contacts who restricted processing.

        ``retrieval`` is the turn's own search for ``latest``, when it made one.
        """
        assert org.id is not None
        if use_model and retrieval is None and latest.strip():
            retrieval = self._knowledge.search(org.id, latest, revision=org.kb_revision)
        classification = self.classify(
            org, latest, recent, use_model=use_model, retrieval=retrieval
        )
        rules = self.rules(org.id)
        team = choose_team(classification, rules)
        agent = choose_agent(team.team_id, classification.language, self._loads(org.id))
        reasons = [f"handed off: {trigger.replace('_', ' ')}", *classification.reasons, team.reason]
        reasons.append(
            f"assigned to agent #{agent.agent_id}"
            if agent
            else "waiting in the queue: nobody available"
        )
        texts = [t for t in [*recent, latest] if t.strip()]
        summary = self._summary(texts) if use_model else _first_and_last(texts)
        suggestions: tuple[int, ...] = ()
        if use_model and retrieval is not None:
            suggestions = tuple(c.entry.entry_id for c in retrieval.candidates[:3])
        return HandoffPlan(
            classification=classification,
            team_id=team.team_id,
            agent_id=agent.agent_id if agent else None,
            priority=team.priority,
            reasons=tuple(reasons),
            summary=summary,
            suggested_entry_ids=suggestions,
        )

    def _loads(self, org_id: int) -> list[AgentLoad]:
        with self._db.read() as session:
            data = RoutingData(session, org_id)
            agents, counts = data.agents(), data.open_handoffs_by_agent()
        return [
            AgentLoad(
                a.id,
                a.team_id,
                tuple(a.languages),
                a.available and a.disabled_at is None,
                int(counts.get(a.id, 0)),
            )
            for a in agents
            if a.id is not None and a.role in ("agent", "admin")
        ]

    def _summary(self, texts: Sequence[str]) -> str:
        """The customer's most central sentences, in the order they were said."""
        sentences = list(
            dict.fromkeys(
                s.strip() for t in texts for s in _SENTENCE.split(t) if len(s.strip()) > 3
            )
        )
        if len(sentences) <= SUMMARY_SENTENCES:
            return " / ".join(sentences)
        vectors = self._knowledge.embedder.embed(sentences)
        centrality = vectors @ vectors.mean(axis=0)
        keep = sorted(np.argsort(-centrality)[:SUMMARY_SENTENCES].tolist())
        return " / ".join(sentences[i] for i in keep)


class _OrgSignals:
    """The router's view for the rules of one organization's turn."""

    def __init__(self, router: HandoffRouter, org: Organization) -> None:
        assert org.id is not None
        self._router = router
        self._org = org
        self.rules = tuple(router.rules(org.id))

    def sentiment(self, text: str) -> Sentiment | None:
        return self._router.sentiment.analyse(text)

    def topic_like(self, text: str, retrieval: Retrieval) -> Rule | None:
        return self._router.topic_like(self._org, text, retrieval)


def _first_and_last(texts: Sequence[str]) -> str:
    # Without a model (restricted processing): what the customer asked first and last.
    if not texts:
        return ""
    return texts[0] if len(texts) == 1 else f"{texts[0]} / ... / {texts[-1]}"

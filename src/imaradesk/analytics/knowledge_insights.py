"""What a knowledge manager needs to improve the knowledge base: a preview and the gaps.

``preview`` shows what the bot would do with a question, from which entries and with which
scores, without recording anything. ``unanswered`` groups recent customer questions the bot
could not answer (it asked them to rephrase, or handed off because it was unsure), so the
largest groups say which entry to write next. Which replies those were is read from their
recorded outcome codes, never from their words.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from sklearn.cluster import AgglomerativeClustering

from imaradesk.bot.rules import LOW_CONFIDENCE_HANDOFF_REPLY
from imaradesk.channels.messages import Outcome
from imaradesk.knowledge_index.knowledge_base import KnowledgeBase
from imaradesk.pii.redactor import Redactor
from imaradesk.policies.handoff import HandoffReason
from imaradesk.runtime.i18n import translate
from imaradesk.storage.db import Database
from imaradesk.storage.insights_repository import InsightsData
from imaradesk.storage.models import Organization

# Cosine distance under which two questions are "the same gap": tight enough that a group
# is one FAQ to write, loose enough that paraphrases meet (checked on BANKING77 paraphrases).
GROUP_DISTANCE = 0.42
MAX_QUESTIONS = 1000
# Replies that mean the knowledge base had no answer. A handoff the customer asked for is not a
# gap in the knowledge base; one because the bot was unsure is.
GAP_OUTCOMES = (Outcome.CLARIFY, Outcome.OFFERED_CHOICES, Outcome.OFFERED_HANDOFF)
GAP_HANDOFF_REASONS = (HandoffReason.LOW_CONFIDENCE,)


@dataclass(frozen=True)
class ScoredPassage:
    entry_id: int
    question: str
    answer: str
    source: str
    location: str | None
    kind: str
    similarity: float
    lexical: float | None
    fused: float | None
    chosen: bool


@dataclass(frozen=True)
class Preview:
    outcome: str  # "answer", "clarify" or "handoff"
    reply: str
    confidence: float
    method: str
    passages: tuple[ScoredPassage, ...]


@dataclass(frozen=True)
class UnansweredGroup:
    size: int
    examples: tuple[str, ...]  # redacted, newest first
    last_asked: datetime
    nearest_entry: str | None  # the closest existing entry, when one is near


class KnowledgeInsights:
    def __init__(
        self,
        *,
        database: Database,
        knowledge: KnowledgeBase,
        redactor: Redactor | None = None,
    ) -> None:
        self._db = database
        self._knowledge = knowledge
        self._redactor = redactor or Redactor()

    def preview(self, org: Organization, text: str) -> Preview:
        assert org.id is not None
        retrieval = self._knowledge.search(org.id, text, revision=org.kb_revision)
        best = retrieval.best
        passages = tuple(
            ScoredPassage(
                entry_id=c.entry.entry_id,
                question=c.entry.question,
                answer=c.entry.answer,
                source=c.entry.source,
                location=c.entry.location,
                kind=c.entry.kind,
                similarity=round(float(c.similarity), 4),
                lexical=_rounded(getattr(c, "lexical", None)),
                fused=_rounded(getattr(c, "fused", None)),
                chosen=best is not None and c.entry.entry_id == best.entry_id,
            )
            for c in retrieval.candidates
        )
        judgement = retrieval.judgement
        if retrieval.confident and best is not None:
            outcome, reply = "answer", best.answer
        elif passages:
            outcome = "clarify"
            reply = "Asks the customer to rephrase or pick one of: " + "; ".join(
                p.question for p in passages[:3]
            )
        else:
            # What an English-speaking customer would read: the preview is for the console.
            outcome, reply = "handoff", translate("en", LOW_CONFIDENCE_HANDOFF_REPLY)
        return Preview(
            outcome=outcome,
            reply=reply,
            confidence=round(float(judgement.confidence), 4),
            method=judgement.method,
            passages=passages,
        )

    def unanswered(
        self, org: Organization, *, now: datetime, days: int = 30, limit: int = 20
    ) -> list[UnansweredGroup]:
        assert org.id is not None
        questions = self._unanswered_questions(org.id, since=now - timedelta(days=days))
        if not questions:
            return []
        texts = [q[0] for q in questions]
        vectors = self._knowledge.embedder.embed(texts)
        if len(texts) == 1:
            labels = np.zeros(1, dtype=int)
        else:
            labels = AgglomerativeClustering(
                n_clusters=None,
                metric="cosine",
                linkage="average",
                distance_threshold=GROUP_DISTANCE,
            ).fit_predict(vectors)
        groups: list[UnansweredGroup] = []
        for label in sorted(set(labels.tolist())):
            members = [i for i, lab in enumerate(labels) if lab == label]
            members.sort(key=lambda i: questions[i][1], reverse=True)
            centre = vectors[members].mean(axis=0)
            centre /= np.linalg.norm(centre) or 1.0
            nearest = self._knowledge.search_vector(org.id, centre, revision=org.kb_revision)
            top = nearest.candidates[0] if nearest.candidates else None
            examples: list[str] = []
            for i in members:
                if texts[i] not in examples:
                    examples.append(texts[i])
            groups.append(
                UnansweredGroup(
                    size=len(members),
                    examples=tuple(examples[:5]),
                    last_asked=questions[members[0]][1],
                    nearest_entry=top.entry.question if top and top.similarity >= 0.35 else None,
                )
            )
        groups.sort(key=lambda g: (g.size, g.last_asked), reverse=True)
        return groups[:limit]

    def _unanswered_questions(self, org_id: int, *, since: datetime) -> list[tuple[str, datetime]]:
        with self._db.read() as session:
            asked = InsightsData(session, org_id).questions_answered_by(
                outcomes=[o.value for o in GAP_OUTCOMES],
                handoff_reasons=[r.value for r in GAP_HANDOFF_REASONS],
                since=since,
                limit=MAX_QUESTIONS,
            )
        return [
            (
                self._redactor.redact(
                    q.text, names=[q.display_name] if q.display_name else []
                ).text,
                q.asked_at,
            )
            for q in asked
        ]


def _rounded(value: object) -> float | None:
    return None if value is None else round(float(value), 4)  # type: ignore[arg-type]

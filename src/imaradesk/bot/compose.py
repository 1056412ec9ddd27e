"""Stage 3 of a turn: the words of the answer, written by the organization's AI when it lets one.

The rules decide what to say from the knowledge base (the extractive answer and the entries it
may be written from, ``Decision.grounding``); this stage writes the final replies. A model
writes only for organizations that both allow external AI and chose generated answers, never
for a contact who restricted processing, and any failure keeps the extractive answer. Where
the AI does not write answers but may be asked, it picks among unsure candidates instead.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from imaradesk.bot.context import Disambiguator, NoDisambiguation, TurnContext
from imaradesk.bot.decision import Decision
from imaradesk.bot.reply_options import handoff_offer
from imaradesk.bot.state import CLARIFICATIONS, HANDOFF_OFFERED, SUGGESTIONS
from imaradesk.channels.messages import OutboundMessage, Outcome, ReplyKind, Source
from imaradesk.knowledge_index.knowledge_base import Candidate
from imaradesk.llm.gateway import AIGateway
from imaradesk.llm.grounded import GroundedAnswers
from imaradesk.storage.models import Contact, Organization

DISAMBIGUATION_PROMPT = (
    "You match a customer's message to the questions of a company's FAQ. Reply with only the "
    "number of the FAQ question that asks the same thing as the customer, or 0 if none does."
)


@dataclass(frozen=True)
class Composition:
    """The replies to store and send, and the conversation-state changes that go with them."""

    replies: tuple[OutboundMessage, ...]
    state: Mapping[str, str]


class AnswerWriter(Protocol):
    def writes_for(self, org: Organization, *, contact_restricted: bool = False) -> bool:
        """Whether a model writes this organization's answers (a turn may then take seconds)."""
        ...

    def disambiguator(
        self, org: Organization, contact: Contact | None, profile_name: str | None
    ) -> Disambiguator:
        """Who picks among unsure candidates for this organization's customer."""
        ...

    def compose(
        self, org: Organization, contact: Contact | None, ctx: TurnContext, decision: Decision
    ) -> Composition:
        """The replies of ``decision``, written by a model where that applies."""
        ...


def extractive(decision: Decision) -> Composition:
    return Composition(decision.replies, decision.state)


class ExtractiveAnswers:
    """No AI: the knowledge base's own words, and nobody to ask when unsure."""

    def writes_for(self, org: Organization, *, contact_restricted: bool = False) -> bool:
        return False

    def disambiguator(
        self, org: Organization, contact: Contact | None, profile_name: str | None
    ) -> Disambiguator:
        return NoDisambiguation()

    def compose(
        self, org: Organization, contact: Contact | None, ctx: TurnContext, decision: Decision
    ) -> Composition:
        return extractive(decision)


class GroundedWriter:
    """The organization's AI, through the gateway that redacts, limits and records each call."""

    def __init__(self, gateway: AIGateway) -> None:
        self._ai = gateway
        self._grounded = GroundedAnswers(gateway)

    def writes_for(self, org: Organization, *, contact_restricted: bool = False) -> bool:
        return self._ai.generates_for(org, contact_restricted)

    def disambiguator(
        self, org: Organization, contact: Contact | None, profile_name: str | None
    ) -> Disambiguator:
        # Where the AI writes the answers, it also judges unsure candidates, in the same call.
        if not self._ai.allowed_for(org) or self.writes_for(org):
            return NoDisambiguation()
        return _AIDisambiguator(self._ai, org, _names(contact, profile_name))

    def compose(
        self, org: Organization, contact: Contact | None, ctx: TurnContext, decision: Decision
    ) -> Composition:
        if not decision.grounding or len(decision.replies) != 1:
            return extractive(decision)
        if not self.writes_for(org, contact_restricted=ctx.restricted):
            return extractive(decision)
        language = ctx.reply_language
        written = self._grounded.answer(
            org,
            question=ctx.text,
            entries=list(decision.grounding),
            language=language,
            names=_names(contact, ctx.inbound.profile_name),
            contact_restricted=ctx.restricted,
        )
        if written is None:
            return extractive(decision)
        if not written.answered:
            offer = OutboundMessage(
                written.text,
                ReplyKind.CLARIFY,
                outcome=Outcome.OFFERED_HANDOFF,
                options=handoff_offer(language),
            )
            return Composition(
                (offer,), {**decision.state, SUGGESTIONS: "", HANDOFF_OFFERED: language}
            )
        score = {c.entry.entry_id: round(c.similarity, 4) for c in ctx.retrieval.candidates}
        score.update({s.entry_id: s.score for s in decision.replies[0].sources})
        sources = tuple(
            Source(e.entry_id, e.external_id, e.question, score.get(e.entry_id, 0.0))
            for e in written.cited
        )
        answer = OutboundMessage(written.text, ReplyKind.ANSWER, sources=sources)
        return Composition((answer,), {**decision.state, CLARIFICATIONS: "0", SUGGESTIONS: ""})


class _AIDisambiguator:
    def __init__(self, gateway: AIGateway, org: Organization, names: list[str]) -> None:
        self._ai = gateway
        self._org = org
        self._names = names

    def choose(self, text: str, candidates: Sequence[Candidate]) -> Candidate | None:
        listing = "\n".join(f"{i}. {c.entry.question}" for i, c in enumerate(candidates, 1))
        answer = self._ai.complete(
            self._org,
            purpose="disambiguation",
            system=DISAMBIGUATION_PROMPT,
            prompt=f"Customer: {text}\nFAQ questions:\n{listing}\nNumber:",
            names=self._names,
            max_tokens=8,
        )
        if answer is None:
            return None
        match = re.search(r"\d+", answer.text)
        number = int(match.group()) if match else 0
        return candidates[number - 1] if 1 <= number <= len(candidates) else None


def _names(contact: Contact | None, profile_name: str | None) -> list[str]:
    return [n for n in (profile_name, contact.display_name if contact else None) if n]

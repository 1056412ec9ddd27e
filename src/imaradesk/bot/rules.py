"""The ordered rules of one turn: the first rule that applies decides.

Each rule has a pure ``applies`` check and an ``apply`` that returns a ``Decision``; the
knowledge rule is the only one that runs the model, and only when it is reached.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from imaradesk.bot.context import TurnContext
from imaradesk.bot.decision import Decision, Rule, decide
from imaradesk.bot.smalltalk import match_small_talk
from imaradesk.bot.state import CLARIFICATIONS, CSAT_HANDOFF, SUGGESTIONS
from imaradesk.channels.messages import OutboundMessage, Outcome, ReplyKind, Source
from imaradesk.knowledge_index.knowledge_base import Candidate, EntryInfo, Retrieval
from imaradesk.policies import consent
from imaradesk.policies.consent import ConsentKeyword, consent_keyword
from imaradesk.policies.handoff import HandoffReason, LowConfidencePolicy, is_human_request

__all__ = [
    "CLARIFICATIONS",
    "CSAT_HANDOFF",
    "SUGGESTIONS",
    "Decision",
    "Rule",
    "TurnContext",
    "decide",
]

HANDOFF_REPLY = (
    "I'm connecting you with a member of our team. A person will reply here as soon as possible."
)
LOW_CONFIDENCE_HANDOFF_REPLY = (
    "I'm sorry I couldn't answer that. I've passed your question to our team, and a person "
    "will reply here as soon as possible."
)
CLARIFY_REPLY = "Sorry, I'm not sure I understood. Could you rephrase your question?"
UNSUPPORTED_MEDIA_REPLY = (
    "Thanks for sending that. I can only read text messages for now: please type your "
    "question and I'll do my best to help."
)
SUGGESTION_MIN_SIMILARITY = 0.35
FRUSTRATION_REPLY = (
    "I'm sorry this has been so frustrating. I'm bringing in a member of our team, who will "
    "reply here as soon as possible."
)
ALWAYS_HUMAN_REPLY = (
    "This needs one of our team. I've passed your message on, and a person will reply here as "
    "soon as possible."
)
CSAT_THANKS = "Thank you for your rating! Is there anything else I can help with?"


class ConsentKeywordRule:
    name = "consent_keyword"

    def applies(self, ctx: TurnContext) -> bool:
        return consent_keyword(ctx.text) is not None

    def apply(self, ctx: TurnContext) -> Decision:
        keyword = consent_keyword(ctx.text)
        if keyword is ConsentKeyword.OPT_OUT:
            if ctx.opted_out:
                # Confirmed once already; repeating it would be the noise they asked to stop.
                return Decision(self.name, show_notice=False)
            reply = OutboundMessage(consent.OPT_OUT_CONFIRMATION, ReplyKind.OPT_OUT_CONFIRMATION)
            return Decision(self.name, (reply,), consent=keyword, show_notice=False)
        if ctx.opted_out:
            reply = OutboundMessage(consent.OPT_IN_CONFIRMATION, ReplyKind.OPT_IN_CONFIRMATION)
            return Decision(self.name, (reply,), consent=keyword)
        reply = OutboundMessage(consent.ALREADY_OPTED_IN, ReplyKind.OPT_IN_CONFIRMATION)
        return Decision(self.name, (reply,))


class OptedOutRule:
    """After STOP the bot says nothing and no model sees the text, until START."""

    name = "opted_out"

    def applies(self, ctx: TurnContext) -> bool:
        return ctx.opted_out

    def apply(self, ctx: TurnContext) -> Decision:
        return Decision(self.name, show_notice=False)


class HumanOwnsConversationRule:
    name = "human_owns_conversation"

    def applies(self, ctx: TurnContext) -> bool:
        return ctx.human_owns_conversation

    def apply(self, ctx: TurnContext) -> Decision:
        return Decision(self.name, show_notice=False)


class UnsupportedMediaRule:
    name = "unsupported_media"

    def applies(self, ctx: TurnContext) -> bool:
        return not ctx.text

    def apply(self, ctx: TurnContext) -> Decision:
        return Decision(
            self.name, (OutboundMessage(UNSUPPORTED_MEDIA_REPLY, ReplyKind.UNSUPPORTED_MEDIA),)
        )


class HumanRequestRule:
    name = "human_request"

    def applies(self, ctx: TurnContext) -> bool:
        return is_human_request(ctx.text)

    def apply(self, ctx: TurnContext) -> Decision:
        reply = OutboundMessage(HANDOFF_REPLY, ReplyKind.HANDOFF, handoff=True)
        return Decision(
            self.name,
            (reply,),
            handoff_reason=HandoffReason.CUSTOMER_REQUEST,
            state={CLARIFICATIONS: "0", SUGGESTIONS: ""},
        )


class AlwaysHumanTopicRule:
    """Topics the organization keeps for people (fraud, a stolen phone, a legal complaint)."""

    name = "always_human_topic"

    def applies(self, ctx: TurnContext) -> bool:
        return ctx.always_human_topic is not None

    def apply(self, ctx: TurnContext) -> Decision:
        reply = OutboundMessage(ALWAYS_HUMAN_REPLY, ReplyKind.HANDOFF, handoff=True)
        return Decision(
            self.name,
            (reply,),
            handoff_reason=HandoffReason.ALWAYS_HUMAN_TOPIC,
            state={CLARIFICATIONS: "0", SUGGESTIONS: ""},
        )


class FrustrationRule:
    name = "frustration"

    def applies(self, ctx: TurnContext) -> bool:
        return ctx.sentiment is not None and ctx.sentiment.frustrated

    def apply(self, ctx: TurnContext) -> Decision:
        reply = OutboundMessage(FRUSTRATION_REPLY, ReplyKind.HANDOFF, handoff=True)
        return Decision(
            self.name,
            (reply,),
            handoff_reason=HandoffReason.FRUSTRATION,
            state={CLARIFICATIONS: "0", SUGGESTIONS: ""},
        )


_RATING = re.compile(r"^\s*([1-5])\s*(?:/\s*5|stars?|nyota)?\s*[.!]?\s*$", re.IGNORECASE)


class CsatRule:
    """A 1-5 answer to "how would you rate our help?" after a person resolved the chat."""

    name = "csat"

    def applies(self, ctx: TurnContext) -> bool:
        return ctx.csat_handoff is not None and bool(_RATING.match(ctx.text))

    def apply(self, ctx: TurnContext) -> Decision:
        match = _RATING.match(ctx.text)
        handoff_id = ctx.csat_handoff
        assert match is not None and handoff_id is not None
        return Decision(
            self.name,
            (OutboundMessage(CSAT_THANKS, ReplyKind.SMALL_TALK, outcome=Outcome.RATED),),
            state={CSAT_HANDOFF: ""},
            rating=(handoff_id, int(match.group(1))),
        )


class SmallTalkRule:
    name = "small_talk"

    def applies(self, ctx: TurnContext) -> bool:
        return match_small_talk(ctx.text) is not None

    def apply(self, ctx: TurnContext) -> Decision:
        match = match_small_talk(ctx.text)
        assert match is not None
        return Decision(self.name, (OutboundMessage(match.reply, ReplyKind.SMALL_TALK),))


_CHOICE = re.compile(r"^\s*(\d)\s*[.)]?\s*$")


class SuggestionChoiceRule:
    """A bare number after "did you mean" picks that suggestion."""

    name = "suggestion_choice"

    def __init__(self, lookup: Callable[[int], Candidate | None]) -> None:
        self._lookup = lookup

    def applies(self, ctx: TurnContext) -> bool:
        match = _CHOICE.match(ctx.text)
        return bool(match and ctx.suggestions and 1 <= int(match.group(1)) <= len(ctx.suggestions))

    def apply(self, ctx: TurnContext) -> Decision:
        match = _CHOICE.match(ctx.text)
        assert match is not None
        candidate = self._lookup(ctx.suggestions[int(match.group(1)) - 1])
        if candidate is None:
            return Decision(self.name, (OutboundMessage(CLARIFY_REPLY, ReplyKind.CLARIFY),))
        entry = candidate.entry
        source = Source(entry.entry_id, entry.external_id, entry.question, 1.0)
        reply = OutboundMessage(entry.answer, ReplyKind.ANSWER, sources=(source,))
        return Decision(self.name, (reply,), state={CLARIFICATIONS: "0", SUGGESTIONS: ""})


class KnowledgeRule:
    """Answer from the knowledge base when confident; otherwise clarify, then hand off."""

    name = "knowledge"

    def __init__(self, policy: LowConfidencePolicy) -> None:
        self._policy = policy

    def applies(self, ctx: TurnContext) -> bool:
        return True

    def apply(self, ctx: TurnContext) -> Decision:
        retrieval = ctx.retrieval
        best = retrieval.best
        if retrieval.confident and best is not None:
            return self._answer(best, round(retrieval.judgement.confidence, 4), retrieval)
        plausible = [c for c in retrieval.candidates if c.similarity >= SUGGESTION_MIN_SIMILARITY][
            :3
        ]
        if plausible:
            chosen = ctx.disambiguator.choose(ctx.text, plausible)
            if chosen is not None:
                return self._answer(chosen.entry, round(chosen.similarity, 4), retrieval)
        if self._policy.should_hand_off(ctx.clarifications):
            reply = OutboundMessage(LOW_CONFIDENCE_HANDOFF_REPLY, ReplyKind.HANDOFF, handoff=True)
            return Decision(
                self.name,
                (reply,),
                handoff_reason=HandoffReason.LOW_CONFIDENCE,
                ai_processed=True,
                state={CLARIFICATIONS: "0", SUGGESTIONS: ""},
            )
        return self._clarify(ctx, plausible)

    def _answer(self, entry: EntryInfo, score: float, retrieval: Retrieval) -> Decision:
        source = Source(entry.entry_id, entry.external_id, entry.question, score)
        reply = OutboundMessage(entry.answer, ReplyKind.ANSWER, sources=(source,))
        # A model writing the answer sees this entry first, then the others about as close.
        grounding = (entry,) + tuple(
            c.entry
            for c in retrieval.candidates
            if c.entry.entry_id != entry.entry_id and c.similarity >= SUGGESTION_MIN_SIMILARITY
        )
        if not any(c.entry.entry_id == entry.entry_id for c in retrieval.candidates):
            grounding = grounding[1:]
        return Decision(
            self.name,
            (reply,),
            ai_processed=True,
            state={CLARIFICATIONS: "0", SUGGESTIONS: ""},
            grounding=grounding,
        )

    def _clarify(self, ctx: TurnContext, suggestions: list[Candidate]) -> Decision:
        text, outcome = CLARIFY_REPLY, Outcome.CLARIFY
        if suggestions:
            lines = "\n".join(f"{i}. {c.entry.question}" for i, c in enumerate(suggestions, 1))
            text = (
                "Sorry, I'm not sure I understood. Did you mean one of these?\n"
                f"{lines}\nReply with its number, or rephrase your question."
            )
            outcome = Outcome.OFFERED_CHOICES
        return Decision(
            self.name,
            (OutboundMessage(text, ReplyKind.CLARIFY, outcome=outcome),),
            ai_processed=True,
            state={
                CLARIFICATIONS: str(ctx.clarifications + 1),
                SUGGESTIONS: ",".join(str(c.entry.entry_id) for c in suggestions),
            },
            # Unsure, but with plausible entries: a model may find the answer among them.
            grounding=tuple(c.entry for c in suggestions),
        )

"""The ordered rules of one turn: the first rule that applies decides.

Each rule has a pure ``applies`` check and an ``apply`` that returns a ``Decision``; the
knowledge rule is the only one that runs the model, and only when it is reached.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

from imaradesk.bot.context import TurnContext
from imaradesk.bot.decision import Decision, Rule, decide
from imaradesk.bot.reply_options import talk_to_a_person
from imaradesk.bot.smalltalk import match_small_talk
from imaradesk.bot.state import CLARIFICATIONS, CSAT_HANDOFF, SUGGESTIONS
from imaradesk.channels.messages import OutboundMessage, Outcome, ReplyKind, ReplyOption, Source
from imaradesk.knowledge_index.knowledge_base import Candidate, EntryInfo
from imaradesk.policies import consent
from imaradesk.policies.consent import ConsentKeyword, consent_keyword
from imaradesk.policies.handoff import HandoffReason, LowConfidencePolicy, is_human_request
from imaradesk.runtime.i18n import N_, LazyText, language_name, translate

__all__ = [
    "CLARIFICATIONS",
    "CSAT_HANDOFF",
    "SUGGESTIONS",
    "Decision",
    "Rule",
    "TurnContext",
    "decide",
]

HANDOFF_REPLY = N_(
    "I'm connecting you with a member of our team. A person will reply here as soon as possible."
)
LOW_CONFIDENCE_HANDOFF_REPLY = N_(
    "I'm sorry I couldn't answer that. I've passed your question to our team, and a person "
    "will reply here as soon as possible."
)
CLARIFY_REPLY = N_("Sorry, I'm not sure I understood. Could you rephrase your question?")
CHOICES_REPLY = N_(
    "Sorry, I'm not sure I understood. Did you mean one of these?\n"
    "{choices}\n"
    "Reply with its number, or rephrase your question."
)
UNSUPPORTED_MEDIA_REPLY = N_(
    "Thanks for sending that. I can only read text messages for now: please type your "
    'question, or reply "agent" to talk to a person.'
)
SUGGESTION_MIN_SIMILARITY = 0.35
FRUSTRATION_REPLY = N_(
    "I'm sorry this has been so frustrating. I'm bringing in a member of our team, who will "
    "reply here as soon as possible."
)
ALWAYS_HUMAN_REPLY = N_(
    "This needs one of our team. I've passed your message on, and a person will reply here as "
    "soon as possible."
)
CSAT_THANKS = N_("Thank you for your rating! Is there anything else I can help with?")
# Before an answer the knowledge base has only in another language than the customer's.
ANSWER_LANGUAGE_NOTE = N_("This answer is only available in {language}:")


def say(
    ctx: TurnContext,
    text: LazyText,
    kind: ReplyKind,
    /,
    *,
    handoff: bool = False,
    outcome: Outcome | None = None,
    **params: object,
) -> OutboundMessage:
    """A product message of this turn, in the turn's reply language."""
    return say_in(ctx.reply_language, text, kind, handoff=handoff, outcome=outcome, **params)


def say_in(
    language: str,
    text: LazyText,
    kind: ReplyKind,
    /,
    *,
    handoff: bool = False,
    outcome: Outcome | None = None,
    **params: object,
) -> OutboundMessage:
    """A product message in ``language``."""
    words = translate(language, text, **params)
    return OutboundMessage(words, kind, handoff=handoff, outcome=outcome)


def answer_reply(ctx: TurnContext, entry: EntryInfo, score: float) -> OutboundMessage:
    """The entry's answer in the customer's language, or in its own with a note saying so."""
    language = ctx.reply_language
    text, text_language = entry.answer_in(language)
    if text_language != language:
        note = translate(
            language,
            ANSWER_LANGUAGE_NOTE,
            language=language_name(text_language, in_language=language),
        )
        text = f"{note}\n{text}"
    source = Source(entry.entry_id, entry.external_id, entry.question, score)
    return OutboundMessage(text, ReplyKind.ANSWER, sources=(source,))


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
            reply = say(ctx, consent.OPT_OUT_CONFIRMATION, ReplyKind.OPT_OUT_CONFIRMATION)
            return Decision(self.name, (reply,), consent=keyword, show_notice=False)
        if ctx.opted_out:
            reply = say(ctx, consent.OPT_IN_CONFIRMATION, ReplyKind.OPT_IN_CONFIRMATION)
            return Decision(self.name, (reply,), consent=keyword)
        reply = say(ctx, consent.ALREADY_OPTED_IN, ReplyKind.OPT_IN_CONFIRMATION)
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
        reply = replace(
            say(ctx, UNSUPPORTED_MEDIA_REPLY, ReplyKind.UNSUPPORTED_MEDIA),
            options=talk_to_a_person(ctx.reply_language),
        )
        return Decision(self.name, (reply,))


class HumanRequestRule:
    name = "human_request"

    def applies(self, ctx: TurnContext) -> bool:
        return is_human_request(ctx.text)

    def apply(self, ctx: TurnContext) -> Decision:
        reply = say(ctx, HANDOFF_REPLY, ReplyKind.HANDOFF, handoff=True)
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
        reply = say(ctx, ALWAYS_HUMAN_REPLY, ReplyKind.HANDOFF, handoff=True)
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
        reply = say(ctx, FRUSTRATION_REPLY, ReplyKind.HANDOFF, handoff=True)
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
            (say(ctx, CSAT_THANKS, ReplyKind.SMALL_TALK, outcome=Outcome.RATED),),
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
        return Decision(self.name, (say(ctx, match.reply, ReplyKind.SMALL_TALK),))


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
            return Decision(self.name, (say(ctx, CLARIFY_REPLY, ReplyKind.CLARIFY),))
        reply = answer_reply(ctx, candidate.entry, 1.0)
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
            return self._answer(ctx, best, round(retrieval.judgement.confidence, 4))
        plausible = [c for c in retrieval.candidates if c.similarity >= SUGGESTION_MIN_SIMILARITY][
            :3
        ]
        if plausible:
            chosen = ctx.disambiguator.choose(ctx.text, plausible)
            if chosen is not None:
                return self._answer(ctx, chosen.entry, round(chosen.similarity, 4))
        if self._policy.should_hand_off(ctx.clarifications):
            reply = say(ctx, LOW_CONFIDENCE_HANDOFF_REPLY, ReplyKind.HANDOFF, handoff=True)
            return Decision(
                self.name,
                (reply,),
                handoff_reason=HandoffReason.LOW_CONFIDENCE,
                ai_processed=True,
                state={CLARIFICATIONS: "0", SUGGESTIONS: ""},
            )
        return self._clarify(ctx, plausible)

    def _answer(self, ctx: TurnContext, entry: EntryInfo, score: float) -> Decision:
        retrieval = ctx.retrieval
        reply = answer_reply(ctx, entry, score)
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
        reply = say(ctx, CLARIFY_REPLY, ReplyKind.CLARIFY, outcome=Outcome.CLARIFY)
        if suggestions:
            asked = [c.entry.question_in(ctx.reply_language) for c in suggestions]
            lines = "\n".join(f"{i}. {question}" for i, question in enumerate(asked, 1))
            choices = Outcome.OFFERED_CHOICES
            reply = say(ctx, CHOICES_REPLY, ReplyKind.CLARIFY, outcome=choices, choices=lines)
            # The same choices as typed options: buttons or a list where the channel has them.
            options = tuple(ReplyOption(str(i), q) for i, q in enumerate(asked, 1))
            reply = replace(reply, options=options)
        return Decision(
            self.name,
            (reply,),
            ai_processed=True,
            state={
                CLARIFICATIONS: str(ctx.clarifications + 1),
                SUGGESTIONS: ",".join(str(c.entry.entry_id) for c in suggestions),
            },
            # Unsure, but with plausible entries: a model may find the answer among them.
            grounding=tuple(c.entry for c in suggestions),
        )

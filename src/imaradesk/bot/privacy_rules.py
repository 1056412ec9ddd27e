"""Turn rules for data-protection requests and restricted processing.

They come before the opt-out and human-ownership rules: a customer may exercise their rights
after STOP and while a person owns the conversation. None of them uses a model.
"""

from __future__ import annotations

from imaradesk.bot.context import TurnContext
from imaradesk.bot.decision import Decision
from imaradesk.bot.reply_options import erasure_confirmation
from imaradesk.bot.rules import answer_reply, say, say_in
from imaradesk.bot.state import PENDING_ERASURE
from imaradesk.channels.messages import OutboundMessage, ReplyKind, ReplyOption
from imaradesk.policies.handoff import HandoffReason
from imaradesk.policies.privacy import (
    PrivacyEffect,
    PrivacyRight,
    is_no,
    is_yes,
    parse_correction,
)
from imaradesk.policies.privacy import PrivacyEffectKind as Effect
from imaradesk.runtime.i18n import N_, LazyText, language_name, translate

__all__ = [
    "PENDING_ERASURE",
    "PendingErasureRule",
    "PrivacyRequestRule",
    "RestrictedProcessingRule",
]

ERASURE_CONFIRM = N_(
    "You asked us to erase all the data we hold about you: your messages, contact details and "
    "consent history. This cannot be undone. Reply YES to erase it, or NO to keep it."
)
ERASED = N_(
    "Done: we have erased all the data we held about you. If you write to us again, we will "
    "treat you as a new customer."
)
ERASURE_BLOCKED = N_(
    "We can't erase your data right now: a legal obligation requires us to keep it for the "
    "moment. Your request is recorded and a member of our team will contact you."
)
ERASURE_KEPT = N_("OK, we have kept your data. Nothing was erased.")
ERASURE_OFFER = N_(
    'If you also want us to erase all the data we hold about you, write "delete my data" and '
    "I'll ask you to confirm."
)
ACCESS_REPLY = N_(
    "Here is everything we hold about you, as a file you can download: {url}\n"
    "Add ?format=html to the link for a readable page. The link works for {minutes} minutes. "
    "In short: {summary}."
)
ACCESS_NOTHING = N_(
    "We hold no data about you yet besides this chat. You can ask again at any time."
)
RECTIFIED = {
    "display_name": N_("Thanks, I've updated your name to {value}."),
    "email": N_("Thanks, I've updated your email to {value}."),
    "preferred_language": N_("Thanks, I've updated your preferred language to {value}."),
}
RECTIFY_BY_HUMAN = N_(
    "Thanks for telling us. I've passed your correction to our team, who will update your "
    "details and confirm here."
)
RESTRICTED = N_(
    "Understood. We'll keep your data but stop processing it with AI, analytics or training. "
    "From now on a person will answer your messages, which may take a little longer. Write "
    '"you can use my data again" to change this.'
)
RESTRICTION_LIFTED = N_("Thanks, our assistant may answer your messages again.")
NOT_YOUR_DATA = N_(
    "For privacy, I can only act on the data of the number you are writing from. The person "
    "concerned can write to us from their own number."
)
RESTRICTED_HANDOFF = N_(
    "Because you asked us not to process your messages with AI, a member of our team will "
    "answer you here."
)


def _reply(
    ctx: TurnContext,
    text: LazyText,
    /,
    *,
    options: tuple[ReplyOption, ...] = (),
    **params: object,
) -> tuple[OutboundMessage, ...]:
    """A privacy reply of this turn, in its reply language."""
    words = translate(ctx.reply_language, text, **params)
    return (OutboundMessage(words, ReplyKind.PRIVACY, options=options),)


class PendingErasureRule:
    """YES or NO to "Reply YES to erase"."""

    name = "pending_erasure"

    def applies(self, ctx: TurnContext) -> bool:
        return ctx.pending_erasure is not None and (is_yes(ctx.text) or is_no(ctx.text))

    def apply(self, ctx: TurnContext) -> Decision:
        request_id = ctx.pending_erasure
        if is_no(ctx.text):
            effect = PrivacyEffect(Effect.CANCEL, PrivacyRight.ERASURE, request_id)
            return Decision(self.name, _reply(ctx, ERASURE_KEPT), privacy=effect, show_notice=False)
        if ctx.privacy.erasure_blocked():
            effect = PrivacyEffect(Effect.ERASURE_BLOCKED, PrivacyRight.ERASURE, request_id)
            return Decision(
                self.name,
                _reply(ctx, ERASURE_BLOCKED),
                privacy=effect,
                handoff_reason=HandoffReason.PRIVACY_REQUEST,
                show_notice=False,
            )
        effect = PrivacyEffect(Effect.ERASE, PrivacyRight.ERASURE, request_id)
        return Decision(self.name, _reply(ctx, ERASED), privacy=effect, show_notice=False)


class PrivacyRequestRule:
    name = "privacy_request"

    def applies(self, ctx: TurnContext) -> bool:
        intent = ctx.privacy_intent
        if intent is None:
            return False
        if (
            intent.right is PrivacyRight.RECTIFICATION
            and not intent.about_someone_else
            and parse_correction(ctx.text) is None
            and not ctx.restricted
            and ctx.retrieval.confident
        ):
            # "How do I change my address?": the organization's FAQ says how; a person is
            # needed only for corrections the FAQ does not cover.
            return False
        return True

    def apply(self, ctx: TurnContext) -> Decision:
        intent = ctx.privacy_intent
        assert intent is not None
        right = intent.right
        if intent.about_someone_else:
            return Decision(
                self.name, _reply(ctx, NOT_YOUR_DATA), privacy=PrivacyEffect(Effect.REFUSE, right)
            )
        if right is PrivacyRight.ERASURE:
            retrieval = None if ctx.restricted or not intent.account_only else ctx.retrieval
            if retrieval is not None and retrieval.confident and retrieval.best is not None:
                # "Delete my account" may mean closing it, which the FAQ explains; erasing the
                # data is offered, not assumed.
                best = retrieval.best
                confidence = round(retrieval.judgement.confidence, 4)
                answer = answer_reply(ctx, best, confidence)
                offer = say(ctx, ERASURE_OFFER, ReplyKind.PRIVACY)
                return Decision(self.name, (answer, offer), ai_processed=True)
            return Decision(
                self.name,
                _reply(ctx, ERASURE_CONFIRM, options=erasure_confirmation(ctx.reply_language)),
                privacy=PrivacyEffect(Effect.REQUEST_ERASURE, right),
            )
        if right is PrivacyRight.ACCESS:
            link = ctx.privacy.export_link()
            if link is None:
                return Decision(
                    self.name,
                    _reply(ctx, ACCESS_NOTHING),
                    privacy=PrivacyEffect(Effect.ACCESS_NOTHING, right),
                )
            reply = _reply(
                ctx,
                ACCESS_REPLY,
                url=link.url,
                minutes=link.expires_in_minutes,
                summary=link.summary.text(ctx.reply_language),
            )
            return Decision(self.name, reply, privacy=PrivacyEffect(Effect.ACCESS, right))
        if right is PrivacyRight.RECTIFICATION:
            correction = parse_correction(ctx.text)
            if correction is None:
                return Decision(
                    self.name,
                    _reply(ctx, RECTIFY_BY_HUMAN),
                    privacy=PrivacyEffect(Effect.RECTIFY_BY_HUMAN, right),
                    handoff_reason=HandoffReason.PRIVACY_REQUEST,
                )
            if correction.field == "preferred_language":
                # Confirmed in the language they chose, and remembered as their choice.
                chosen = correction.value
                confirmation = say_in(
                    chosen,
                    RECTIFIED[correction.field],
                    ReplyKind.PRIVACY,
                    value=language_name(chosen, in_language=chosen),
                )
                return Decision(
                    self.name,
                    (confirmation,),
                    privacy=PrivacyEffect(Effect.RECTIFY, right, correction=correction),
                    language_choice=chosen,
                )
            return Decision(
                self.name,
                _reply(ctx, RECTIFIED[correction.field], value=correction.value),
                privacy=PrivacyEffect(Effect.RECTIFY, right, correction=correction),
            )
        if right is PrivacyRight.RESTRICTION:
            return Decision(
                self.name, _reply(ctx, RESTRICTED), privacy=PrivacyEffect(Effect.RESTRICT, right)
            )
        return Decision(
            self.name, _reply(ctx, RESTRICTION_LIFTED), privacy=PrivacyEffect(Effect.LIFT, right)
        )


class RestrictedProcessingRule:
    """A contact who restricted processing is answered by people, not the model."""

    name = "restricted_processing"

    def applies(self, ctx: TurnContext) -> bool:
        return ctx.restricted

    def apply(self, ctx: TurnContext) -> Decision:
        reply = say(ctx, RESTRICTED_HANDOFF, ReplyKind.HANDOFF, handoff=True)
        return Decision(self.name, (reply,), handoff_reason=HandoffReason.RESTRICTED_PROCESSING)

"""The language of a turn's replies: chosen by the customer, seen in their message, remembered.

The precedence is ``policies.language.reply_language``'s. What the bot remembers:

- a language the customer asked for ("ongea Kiswahili", "English please", a rectification) is
  the contact's ``preferred_language``, kept across conversations, and detection never
  overrides it;
- the language of their last plainly written message is kept in the conversation state, so a
  short or unclear message ("ok", "1") is answered in the language of the conversation.

``LanguageChoiceRule`` is the customer's switch: it confirms in the new language.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Protocol

from imaradesk.bot.context import TurnContext
from imaradesk.bot.decision import Decision
from imaradesk.bot.rules import say_in
from imaradesk.bot.smalltalk import match_small_talk
from imaradesk.bot.state import LANGUAGE
from imaradesk.channels.messages import Outcome, ReplyKind
from imaradesk.policies.language import ReplyLanguage, reply_language, requested_language
from imaradesk.runtime.i18n import N_, language_name, supported
from imaradesk.storage.models import Contact

LANGUAGE_CHOSEN = N_("Sure, I'll reply in {language} from now on. How can I help?")


class LanguageDetection(Protocol):
    def language_of(self, text: str, *, names: tuple[str, ...] = ()) -> str | None:
        """The language ``text`` is plainly written in, or None when short or unclear."""
        ...


def remembered_language(
    contact: Contact | None, state: Mapping[str, str]
) -> tuple[str | None, bool]:
    """The language kept for the customer, and whether they chose it themselves."""
    if contact is not None and contact.preferred_language:
        return contact.preferred_language, True
    return state.get(LANGUAGE) or None, False


def language_for(contact: Contact | None, state: Mapping[str, str], fallback: str = "en") -> str:
    """The language to write to the customer in outside a turn (the rating question, say)."""
    remembered, _chosen = remembered_language(contact, state)
    return supported(remembered or fallback)


def turn_language(
    detector: LanguageDetection,
    *,
    text: str,
    contact: Contact | None,
    state: Mapping[str, str],
    org_name: str,
) -> ReplyLanguage:
    """The reply language of a turn, before its rules run."""
    remembered, chosen = remembered_language(contact, state)
    greeting = match_small_talk(text)
    # The organization's own name ("Imara Pesa") says nothing about the customer's language.
    names = (org_name, *re.findall(r"\w+", org_name))
    return reply_language(
        remembered=remembered,
        chosen=chosen,
        seen=detector.language_of(text, names=names) if text else None,
        hint=greeting.language if greeting else None,
    )


def after_decision(language: ReplyLanguage, decision: Decision) -> ReplyLanguage:
    """The turn's language once its rule decided: a language asked for now wins."""
    if decision.language_choice is not None:
        return ReplyLanguage(decision.language_choice, chosen=True, remember=None)
    return language


def state_changes(language: ReplyLanguage, decision: Decision) -> dict[str, str]:
    """What the conversation state keeps of the turn's language."""
    if decision.language_choice is not None:
        return {LANGUAGE: decision.language_choice}
    if language.remember is not None:
        return {LANGUAGE: language.remember}
    return {}


class LanguageChoiceRule:
    """ "Ongea Kiswahili", "English please": the customer picks the language of the replies."""

    name = "language_choice"

    def applies(self, ctx: TurnContext) -> bool:
        return requested_language(ctx.text) is not None

    def apply(self, ctx: TurnContext) -> Decision:
        language = requested_language(ctx.text)
        assert language is not None
        reply = say_in(
            language,
            LANGUAGE_CHOSEN,
            ReplyKind.SMALL_TALK,
            outcome=Outcome.LANGUAGE_CHOSEN,
            language=language_name(language, in_language=language),
        )
        return Decision(self.name, (reply,), language_choice=language)

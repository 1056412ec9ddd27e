"""The choices the product's own questions offer, as typed options for channels with buttons.

An option's id is what the customer would type to choose it ("YES", "3", "agent"), so a tap
and a typed answer are the same message to the rules, and the question's text always says what
to type: a channel without buttons loses nothing. Titles fit WhatsApp's reply buttons (20
characters) in every language.
"""

from __future__ import annotations

from imaradesk.channels.messages import ReplyOption
from imaradesk.runtime.i18n import N_, LazyText, translate

ERASE_YES, ERASE_NO = N_("Yes, erase it"), N_("No, keep it")
PERSON_YES, PERSON_NO = N_("Yes, a person"), N_("No, thanks")
TALK_TO_PERSON = N_("Talk to a person")
RATINGS = (N_("Poor"), N_("Fair"), N_("Good"), N_("Very good"), N_("Excellent"))


def options(language: str, *choices: tuple[str, LazyText]) -> tuple[ReplyOption, ...]:
    return tuple(ReplyOption(id_, translate(language, title)) for id_, title in choices)


def erasure_confirmation(language: str) -> tuple[ReplyOption, ...]:
    return options(language, ("YES", ERASE_YES), ("NO", ERASE_NO))


def handoff_offer(language: str) -> tuple[ReplyOption, ...]:
    return options(language, ("yes", PERSON_YES), ("no", PERSON_NO))


def talk_to_a_person(language: str) -> tuple[ReplyOption, ...]:
    return options(language, ("agent", TALK_TO_PERSON))


def rating(language: str) -> tuple[ReplyOption, ...]:
    return options(language, *((str(n), title) for n, title in enumerate(RATINGS, 1)))

"""Consent keywords and notices.

STOP and friends withdraw consent only as the whole message (case-folded), as carriers
treat them, so that "please don't stop my account" is not an opt-out.
"""

from __future__ import annotations

from enum import StrEnum

from imaradesk.runtime.i18n import N_, translate

OPT_OUT_KEYWORDS = frozenset({"stop", "stopall", "unsubscribe", "cancel", "end", "quit"})
OPT_IN_KEYWORDS = frozenset({"start", "unstop", "subscribe"})
SUPPORT_PURPOSE = "customer_support"


class ConsentKeyword(StrEnum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"


def consent_keyword(text: str) -> ConsentKeyword | None:
    word = text.strip().casefold()
    # Customers often add a full stop or exclamation mark; nothing else.
    word = word.rstrip(".!")
    if word in OPT_OUT_KEYWORDS:
        return ConsentKeyword.OPT_OUT
    if word in OPT_IN_KEYWORDS:
        return ConsentKeyword.OPT_IN
    return None


DEFAULT_NOTICE = N_(
    "Hi, you're chatting with {org_name}'s assistant. We keep this conversation to answer you "
    "and improve our help, for as long as our retention policy says. Reply STOP at any time "
    "to opt out."
)
# What a new organization's notice says until it publishes its own (stored as it is written).
DEFAULT_NOTICE_TEXT = DEFAULT_NOTICE.msgid
POLICY_LINK = N_("Privacy policy: {url}")

OPT_OUT_CONFIRMATION = N_(
    "You have opted out and will not receive further messages from us. Reply START to opt back in."
)
OPT_IN_CONFIRMATION = N_("Welcome back! You have opted in again. How can we help?")
ALREADY_OPTED_IN = N_("You are already receiving our messages. How can we help?")


def privacy_notice(
    *, org_name: str, notice_text: str, policy_url: str | None, language: str = "en"
) -> str:
    """The notice in ``language``: ours translated, an organization's own as it wrote it."""
    if notice_text == DEFAULT_NOTICE_TEXT:
        notice_text = translate(language, DEFAULT_NOTICE)
    # Only {org_name} is a placeholder: any other brace is the notice's own text.
    notice = notice_text.replace("{org_name}", org_name)
    if policy_url:
        notice = f"{notice} {translate(language, POLICY_LINK, url=policy_url)}"
    return notice

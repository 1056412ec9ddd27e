"""Consent keywords and notices.

STOP and friends withdraw consent only as the whole message (case-folded), as carriers
treat them, so that "please don't stop my account" is not an opt-out.
"""

from __future__ import annotations

from enum import StrEnum

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


def privacy_notice(*, org_name: str, notice_text: str, policy_url: str | None) -> str:
    # Only {org_name} is a placeholder: any other brace is the notice's own text.
    notice = notice_text.replace("{org_name}", org_name)
    if policy_url:
        notice = f"{notice} Privacy policy: {policy_url}"
    return notice


DEFAULT_NOTICE_TEXT = (
    "Hi, you're chatting with {org_name}'s assistant. We keep this conversation to answer you "
    "and improve our help, for as long as our retention policy says. Reply STOP at any time "
    "to opt out."
)

OPT_OUT_CONFIRMATION = (
    "You have opted out and will not receive further messages from us. Reply START to opt back in."
)
OPT_IN_CONFIRMATION = "Welcome back! You have opted in again. How can we help?"
ALREADY_OPTED_IN = "You are already receiving our messages. How can we help?"

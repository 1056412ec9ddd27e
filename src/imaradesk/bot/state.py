"""Keys of the short-lived conversation state (Redis or memory) that the rules read and write.

An empty string as a value deletes the key.
"""

from __future__ import annotations

from collections.abc import Mapping

from imaradesk.compliance.effects import PENDING_ERASURE

CLARIFICATIONS = "clarifications"  # how many times in a row the bot was unsure
SUGGESTIONS = "suggestions"  # entry ids offered as "did you mean", comma-separated
CSAT_HANDOFF = "csat_handoff"  # the resolved handoff a 1-5 answer would rate
HANDOFF_OFFERED = "handoff_offered"  # the language of a pending "shall I get a person?"
LANGUAGE = "language"  # the language of the conversation: the customer's last plain message's
# PENDING_ERASURE: the erasure request waiting for YES (the privacy desk sets and clears it).
__all__ = [
    "CLARIFICATIONS",
    "CSAT_HANDOFF",
    "HANDOFF_OFFERED",
    "LANGUAGE",
    "PENDING_ERASURE",
    "SUGGESTIONS",
]


def expire_one_message_keys(
    before: Mapping[str, str], changes: Mapping[str, str], *, rated: bool
) -> dict[str, str]:
    """``changes`` plus the removal of what holds for one message only.

    A rating question that was not answered, and an offer of a person that was not taken up,
    lapse with the next message.
    """
    out = dict(changes)
    if before.get(CSAT_HANDOFF, "").isdigit() and not rated:
        out[CSAT_HANDOFF] = ""
    if before.get(HANDOFF_OFFERED) and HANDOFF_OFFERED not in out:
        out[HANDOFF_OFFERED] = ""
    return out

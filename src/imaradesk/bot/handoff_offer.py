"""The answer to "shall I connect you to a person?", asked when the help articles have none.

A generated answer that finds nothing in the passages offers a person instead of guessing; the
conversation state remembers the offer for the next message only; the answer to it is in the
turn's reply language. A yes
hands off as if the customer had asked for a person; a no leaves the conversation with the bot.
Anything else is an ordinary message.
"""

from __future__ import annotations

import re

from imaradesk.bot.context import TurnContext
from imaradesk.bot.decision import Decision
from imaradesk.bot.rules import HANDOFF_REPLY, say
from imaradesk.bot.state import CLARIFICATIONS, HANDOFF_OFFERED, SUGGESTIONS
from imaradesk.channels.messages import ReplyKind
from imaradesk.policies.handoff import HandoffReason
from imaradesk.policies.text import fold
from imaradesk.runtime.i18n import N_

__all__ = ["HANDOFF_OFFERED", "HandoffOfferRule"]

_YES = re.compile(
    r"^(?:yes|yeah|yea|yep|yup|ok|okay|sure|please|yes please|ok please|okay please|go ahead|"
    r"yes connect me|ndiyo|ndio|ndiyo tafadhali|ndio tafadhali|eeh|eh|sawa|sawa tafadhali|"
    r"naam|tafadhali|haya)$"
)
_NO = re.compile(
    r"^(?:no|nope|nah|no thanks|no thank you|not now|no need|hapana|la|hapana asante|sitaki|"
    r"hakuna haja|si sasa)$"
)

DECLINED_REPLY = N_("Okay. Is there anything else I can help with?")


class HandoffOfferRule:
    name = "handoff_offer"

    def applies(self, ctx: TurnContext) -> bool:
        if not ctx.state.get(HANDOFF_OFFERED):
            return False
        answer = fold(ctx.text)
        return bool(_YES.match(answer) or _NO.match(answer))

    def apply(self, ctx: TurnContext) -> Decision:
        done = {HANDOFF_OFFERED: "", CLARIFICATIONS: "0", SUGGESTIONS: ""}
        if _YES.match(fold(ctx.text)):
            return Decision(
                self.name,
                (say(ctx, HANDOFF_REPLY, ReplyKind.HANDOFF, handoff=True),),
                handoff_reason=HandoffReason.CUSTOMER_REQUEST,
                state=done,
            )
        return Decision(self.name, (say(ctx, DECLINED_REPLY, ReplyKind.SMALL_TALK),), state=done)

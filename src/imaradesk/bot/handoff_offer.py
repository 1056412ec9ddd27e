"""The answer to "shall I connect you to a person?", asked when the help articles have none.

A generated answer that finds nothing in the passages offers a person instead of guessing; the
conversation state remembers the offer (and its language) for the next message only. A yes
hands off as if the customer had asked for a person; a no leaves the conversation with the bot.
Anything else is an ordinary message.
"""

from __future__ import annotations

import re

from imaradesk.bot.context import TurnContext
from imaradesk.bot.decision import Decision
from imaradesk.bot.rules import HANDOFF_REPLY
from imaradesk.bot.state import CLARIFICATIONS, HANDOFF_OFFERED, SUGGESTIONS
from imaradesk.channels.messages import OutboundMessage, ReplyKind
from imaradesk.policies.handoff import HandoffReason
from imaradesk.policies.text import fold

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

_CONNECTING = {
    "en": HANDOFF_REPLY,
    "sw": "Ninakuunganisha na mtu wa timu yetu. Atakujibu hapa haraka iwezekanavyo.",
}
_DECLINED = {
    "en": "Okay. Is there anything else I can help with?",
    "sw": "Sawa. Kuna jambo lingine naweza kukusaidia?",
}


class HandoffOfferRule:
    name = "handoff_offer"

    def applies(self, ctx: TurnContext) -> bool:
        if not ctx.state.get(HANDOFF_OFFERED):
            return False
        answer = fold(ctx.text)
        return bool(_YES.match(answer) or _NO.match(answer))

    def apply(self, ctx: TurnContext) -> Decision:
        language = ctx.state.get(HANDOFF_OFFERED, "en")
        done = {HANDOFF_OFFERED: "", CLARIFICATIONS: "0", SUGGESTIONS: ""}
        if _YES.match(fold(ctx.text)):
            text = _CONNECTING.get(language, _CONNECTING["en"])
            return Decision(
                self.name,
                (OutboundMessage(text, ReplyKind.HANDOFF, handoff=True),),
                handoff_reason=HandoffReason.CUSTOMER_REQUEST,
                state=done,
            )
        text = _DECLINED.get(language, _DECLINED["en"])
        return Decision(self.name, (OutboundMessage(text, ReplyKind.SMALL_TALK),), state=done)

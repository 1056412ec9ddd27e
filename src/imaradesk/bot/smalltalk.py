"""Greetings, thanks and goodbyes, in English and Swahili, answered without the knowledge base.

The language of a greeting is a hint of the customer's language, not the reply's: a customer
who writes Swahili and says "thanks" is thanked in Swahili (policies.language).

Only a message that is nothing but small talk counts: "hi, how do I reset my PIN?" is a
question and goes to the knowledge base.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from imaradesk.policies.text import fold
from imaradesk.runtime.i18n import N_, LazyText


class SmallTalk(StrEnum):
    GREETING = "greeting"
    THANKS = "thanks"
    GOODBYE = "goodbye"


_ADDRESS = (
    r"(?:\s+(?:there|team|bot|friend|sir|madam|boss|all|guys|everyone|rafiki|ndugu|mkuu|boss))?"
)
_EN_GREETING = (
    r"(?:hi+|hello+|hey+|hallo|helo|good (?:morning|afternoon|evening|day)|greetings|howdy|yo)"
)
_SW_GREETING = (
    r"(?:habari(?: yako| zenu| za asubuhi| za mchana| za jioni| gani)?|hujambo|hamjambo|jambo|"
    r"salama|mambo(?: vipi)?|niaje|sasa|vipi|shikamoo|salaam|sema|habari ya leo)"
)
_EN_THANKS = r"(?:thanks?(?: you)?(?: so much| very much| a lot)?|thank u|thx|thnx|ty|cheers|much appreciated|appreciated)"
_SW_THANKS = r"(?:asante(?: sana)?|ahsante(?: sana)?|shukran|shukrani|nashukuru|poa asante)"
_EN_BYE = r"(?:bye+|goodbye|good bye|see you(?: later| soon)?|later|good night|take care|ok bye)"
_SW_BYE = r"(?:kwaheri|kwa heri|tutaonana|usiku mwema|baadaye|siku njema)"


def _whole(pattern: str) -> re.Pattern[str]:
    return re.compile(rf"^(?:{pattern}){_ADDRESS}(?:\s+(?:{pattern}))*$")


_RULES: list[tuple[SmallTalk, str, re.Pattern[str]]] = [
    (SmallTalk.GREETING, "en", _whole(_EN_GREETING)),
    (SmallTalk.GREETING, "sw", _whole(_SW_GREETING)),
    (SmallTalk.THANKS, "en", _whole(_EN_THANKS)),
    (SmallTalk.THANKS, "sw", _whole(_SW_THANKS)),
    (SmallTalk.GOODBYE, "en", _whole(_EN_BYE)),
    (SmallTalk.GOODBYE, "sw", _whole(_SW_BYE)),
]

# What the bot answers, in the turn's reply language (the customer's, not the greeting's).
_REPLIES = {
    SmallTalk.GREETING: N_("Hello! How can I help you today?"),
    SmallTalk.THANKS: N_("You're welcome! Is there anything else I can help with?"),
    SmallTalk.GOODBYE: N_("Goodbye, and thank you for reaching out!"),
}


@dataclass(frozen=True)
class SmallTalkMatch:
    kind: SmallTalk
    language: str

    @property
    def reply(self) -> LazyText:
        return _REPLIES[self.kind]


def match_small_talk(text: str) -> SmallTalkMatch | None:
    folded = fold(text)
    if not folded or len(folded) > 60:
        return None
    for kind, language, pattern in _RULES:
        if pattern.match(folded):
            return SmallTalkMatch(kind, language)
    return None

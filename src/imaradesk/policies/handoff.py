"""When the bot hands a conversation to a human."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from imaradesk.policies.text import fold


class HandoffReason(StrEnum):
    CUSTOMER_REQUEST = "customer_request"
    LOW_CONFIDENCE = "low_confidence"
    PRIVACY_REQUEST = "privacy_request"
    FRUSTRATION = "frustration"
    ALWAYS_HUMAN_TOPIC = "always_human_topic"
    RESTRICTED_PROCESSING = "restricted_processing"


# English and Swahili (with common Sheng spellings) ways of asking for a person.
_HUMAN_REQUEST = [
    r"\b(talk|speak|chat)\s+(to|with)\s+(a|an|the|some|real)?\s*(human|person|agent|someone|somebody|representative|rep|operator|staff|customer care|customer service)\b",
    r"\b(real|live|human)\s+(person|agent|human|being|support)\b",
    r"\b(want|need|get|give me|connect me to|connect me with|transfer me to)\s+(a|an|to|the)?\s*(human|agent|person|representative|operator|customer care)\b",
    r"^(human|agent|operator|representative|customer care|customer service)( please| pls)?$",
    r"\bnataka\s+(kuongea|kuzungumza|kuwasiliana|kuchat)\s+na\s+(mtu|binadamu|wakala|mhudumu|agent)\b",
    r"\b(niunganishe|nipe|nipatie|niongee)\s+na\s+(mtu|binadamu|wakala|mhudumu|agent)\b",
    r"\b(mtu|binadamu|mhudumu)\s+(halisi|wa kweli)\b",
    r"\bnataka\s+(mtu|binadamu|mhudumu|wakala|agent)\b",
]
_HUMAN_REQUEST_RE = [re.compile(p) for p in _HUMAN_REQUEST]


def is_human_request(text: str) -> bool:
    folded = fold(text)
    return any(p.search(folded) for p in _HUMAN_REQUEST_RE)


@dataclass(frozen=True)
class LowConfidencePolicy:
    """Ask the customer to rephrase ``max_clarifications`` times, then hand off."""

    max_clarifications: int = 1

    def should_hand_off(self, clarifications_so_far: int) -> bool:
        return clarifications_so_far >= self.max_clarifications

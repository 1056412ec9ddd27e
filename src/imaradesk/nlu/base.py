"""What an NLU backend provides: the intent of one message, with its confidence.

Errors::

    NLUError
    ├── NLUUnavailable    the service did not answer in time, or refused (retrieval decides)
    └── NLUReplyInvalid   it answered something that is not an intent parse
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class NLUError(Exception):
    """Base of NLU errors: the caller falls back to its own retrieval."""


class NLUUnavailable(NLUError):
    pass


class NLUReplyInvalid(NLUError):
    pass


@dataclass(frozen=True)
class NLUResult:
    """The recognised intent (None when the service names none) and the alternatives."""

    intent: str | None
    confidence: float
    # (intent, confidence), best first, as the service ranked them
    ranking: tuple[tuple[str, float], ...] = ()


class NLUBackend(Protocol):
    def parse(self, text: str) -> NLUResult:
        """Recognise the intent of ``text``.

        Raises:
            NLUUnavailable: no answer within the timeout, a connection or HTTP error.
            NLUReplyInvalid: the answer is not a parse result.
        """
        ...

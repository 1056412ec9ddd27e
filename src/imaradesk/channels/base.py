"""What every channel adapter provides, and the errors it raises.

Errors::

    ChannelError
    ├── SignatureInvalid    the request is not from the provider (403)
    └── MalformedRequest    the request is from nobody we understand (400)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from imaradesk.channels.messages import InboundMessage, OutboundMessage


class ChannelError(Exception):
    """Base of channel errors."""


class SignatureInvalid(ChannelError):
    pass


class MalformedRequest(ChannelError):
    pass


def json_string(
    payload: dict[str, Any],
    key: str,
    *,
    limit: int,
    required: bool = True,
    too_long: type[MalformedRequest] = MalformedRequest,
) -> str | None:
    """A string field of a JSON body (web chat, Rasa REST): present, not blank, not too long."""
    value = payload.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        if required:
            raise MalformedRequest(f'"{key}" is required and must be a non-empty string')
        raise MalformedRequest(f'"{key}" must be a non-empty string when given')
    if len(value) > limit:
        raise too_long(f'"{key}" is longer than {limit} characters')
    return value


class Channel(Protocol):
    name: str
    max_text_length: int

    def parse(self, payload: Any, *, org_slug: str, received_at: datetime) -> list[InboundMessage]:
        """Turn a provider's request payload into inbound messages; pure, no I/O.

        Raises:
            MalformedRequest: a field we need is missing or unusable.
        """
        ...

    def render(self, replies: Sequence[OutboundMessage], **context: Any) -> Any:
        """Turn replies into the provider's synchronous response body."""
        ...


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n{2,}")


def split_text(text: str, limit: int) -> list[str]:
    """Split ``text`` into chunks of at most ``limit`` characters, at sentence boundaries.

    Falls back to word boundaries for a sentence longer than the limit, and to a hard cut for
    a word longer than it.
    """
    if limit < 1:
        raise ValueError("limit must be positive")
    text = text.strip()
    if len(text) <= limit:
        return [text] if text else []
    pieces: list[str] = []
    for sentence in (s.strip() for s in _SENTENCE_END.split(text)):
        if not sentence:
            continue
        if len(sentence) <= limit:
            pieces.append(sentence)
            continue
        pieces.extend(_split_words(sentence, limit))
    chunks: list[str] = []
    current = ""
    for piece in pieces:
        candidate = f"{current} {piece}" if current else piece
        if len(candidate) <= limit:
            current = candidate
        else:
            chunks.append(current)
            current = piece
    if current:
        chunks.append(current)
    return chunks


def _split_words(sentence: str, limit: int) -> list[str]:
    out: list[str] = []
    current = ""
    for word in sentence.split():
        while len(word) > limit:
            if current:
                out.append(current)
                current = ""
            out.append(word[:limit])
            word = word[limit:]
        candidate = f"{current} {word}" if current else word
        if len(candidate) <= limit:
            current = candidate
        else:
            out.append(current)
            current = word
    if current:
        out.append(current)
    return out

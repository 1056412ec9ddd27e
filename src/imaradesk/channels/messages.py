"""The channel-neutral message types that every channel adapter produces and renders."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


@dataclass(frozen=True)
class Media:
    url: str
    content_type: str


@dataclass(frozen=True)
class InboundMessage:
    """One message a customer sent, as any channel delivers it.

    ``sender_id`` and ``provider_message_id`` are required: a default sender would merge
    strangers' chats and a made-up id would make deduplication of retries impossible.
    """

    org_slug: str
    channel: str
    sender_id: str
    provider_message_id: str
    received_at: datetime
    text: str = ""
    profile_name: str | None = None
    media: tuple[Media, ...] = ()
    button_payload: str | None = None
    recipient_id: str | None = None

    def __post_init__(self) -> None:
        for name in ("org_slug", "channel", "sender_id", "provider_message_id"):
            if not getattr(self, name):
                raise ValueError(f"InboundMessage.{name} is required")
        if self.received_at.tzinfo is None:
            raise ValueError("InboundMessage.received_at must be timezone-aware")


class ReplyKind(StrEnum):
    ANSWER = "answer"
    SMALL_TALK = "small_talk"
    PRIVACY_NOTICE = "privacy_notice"
    CLARIFY = "clarify"
    HANDOFF = "handoff"
    OPT_OUT_CONFIRMATION = "opt_out_confirmation"
    OPT_IN_CONFIRMATION = "opt_in_confirmation"
    UNSUPPORTED_MEDIA = "unsupported_media"
    PRIVACY = "privacy"


@dataclass(frozen=True)
class Source:
    """The knowledge entry an answer came from."""

    entry_id: int
    external_id: str
    question: str
    score: float


@dataclass(frozen=True)
class OutboundMessage:
    text: str
    kind: ReplyKind
    sources: tuple[Source, ...] = ()
    handoff: bool = False
    message_id: int | None = None


@dataclass(frozen=True)
class Turn:
    """What handling one inbound message produced."""

    replies: tuple[OutboundMessage, ...]
    inbound_message_id: int | None
    duplicate: bool = False
    notes: tuple[str, ...] = field(default=())

"""What every channel adapter provides, and the errors it raises.

A channel parses what a provider sends us (pure) and sends what we write back. Push channels
(Twilio) send through the provider's API; pull channels (web chat, Rasa REST) keep the message
in a ``PollMailbox`` for the customer's next poll. Delivery chooses by ``capabilities``, never
by a channel's name.

Errors::

    ChannelError
    ├── SignatureInvalid    the request is not from the provider (403)
    ├── MalformedRequest    the request is from nobody we understand (400)
    └── SendFailed          a message did not go out (``retryable`` says if trying again may help)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from imaradesk.channels.messages import InboundMessage, OutboundMessage


class ChannelError(Exception):
    """Base of channel errors."""


class SignatureInvalid(ChannelError):
    pass


class MalformedRequest(ChannelError):
    pass


class SendFailed(ChannelError):
    def __init__(self, message: str, *, code: str | None = None, retryable: bool = True) -> None:
        super().__init__(message)
        self.code = code
        self.retryable = retryable


# SendFailed.code of a send whose answer never came: the provider may have taken it. Delivery
# sends it again only if no status report says it went (after its claim lapses).
UNCERTAIN = "uncertain"


# -- delivery statuses -------------------------------------------------------------------------

AWAITING_POLL = "awaiting_poll"

# Delivery statuses in the order a message moves through them; a late report of an earlier
# status never overwrites a later one. The names are the common ones (Twilio's, WhatsApp's);
# "awaiting_poll" is ours: a pull channel holds the message until the customer asks for it.
_STATUS_RANK = {
    "accepted": 0,
    "scheduled": 0,
    "queued": 1,
    AWAITING_POLL: 2,
    "sending": 2,
    "sent": 3,
    "failed": 4,
    "undelivered": 4,
    "delivered": 5,
    "read": 6,
}
KNOWN_STATUSES = frozenset(_STATUS_RANK)


def status_supersedes(new: str, current: str | None) -> bool:
    """Whether ``new`` should replace ``current`` (statuses only move forward)."""
    if current is None:
        return True
    return _STATUS_RANK.get(new, -1) > _STATUS_RANK.get(current, -1)


def statuses_superseded_by(new: str) -> frozenset[str | None]:
    """Every stored status that ``new`` may replace, ``None`` (never reported) included."""
    return frozenset({None, *(s for s in KNOWN_STATUSES if status_supersedes(new, s))})


@dataclass(frozen=True)
class StatusReport:
    """A provider's report on one of our outbound messages."""

    provider_message_id: str
    status: str
    error_code: str | None
    our_message_id: int | None
    # Meta's pricing category of the message (service, utility, ...); Twilio's reports have none.
    pricing_category: str | None = None


# -- sending -----------------------------------------------------------------------------------


class DeliveryMode(StrEnum):
    PUSH = "push"  # the adapter calls the provider's API
    POLL = "poll"  # the customer's client fetches what waits for it


@dataclass(frozen=True)
class ChannelCapabilities:
    delivery: DeliveryMode
    # The conversation channels this adapter carries ("whatsapp" and "sms" for Twilio).
    serves: tuple[str, ...]
    # Conversation channels where free text may only follow a customer's message by this long
    # (WhatsApp's customer-service window); after it, only approved templates.
    service_windows: tuple[tuple[str, timedelta], ...] = ()

    def service_window(self, channel: str) -> timedelta | None:
        return dict(self.service_windows).get(channel)


@dataclass(frozen=True)
class Recipient:
    """Who a message goes to: a customer's address on a conversation channel."""

    org_id: int
    org_slug: str
    channel: str
    address: str


@dataclass(frozen=True)
class ProviderAccount:
    """An organization's own account at a provider: who signs in, and the address it sends from.

    Built by delivery from the organization's settings; channels never read storage.
    """

    account_id: str
    secret: str = field(repr=False)
    sender: str


@dataclass(frozen=True)
class TemplateMessage(OutboundMessage):
    """A provider-approved template (the only thing WhatsApp allows outside the window).

    ``text`` is the template's body as customers read it: a channel without templates sends it.
    """

    template_sid: str = ""

    def __post_init__(self) -> None:
        if not self.template_sid:
            raise ValueError("TemplateMessage.template_sid is required")


@dataclass(frozen=True)
class SendReceipt:
    provider_message_id: str | None
    status: str


class PollMailbox(Protocol):
    """Where pull channels keep a stored message until the customer's next poll."""

    def hold(self, *, org_id: int, message_id: int) -> None:
        """Mark the stored outbound message as waiting for the customer to fetch it."""
        ...


def hold_for_poll(
    mailbox: PollMailbox | None, message: OutboundMessage, *, to: Recipient
) -> SendReceipt:
    """A pull channel's ``send``: the stored message waits in the mailbox for the next poll.

    Raises:
        SendFailed: the message was never stored, or the channel was built without a mailbox.
    """
    if mailbox is None:
        raise SendFailed("this channel was built without a mailbox", code="config", retryable=False)
    if message.message_id is None:
        raise SendFailed(
            "only a stored message can wait for a poll", code="unstored", retryable=False
        )
    mailbox.hold(org_id=to.org_id, message_id=message.message_id)
    return SendReceipt(provider_message_id=None, status=AWAITING_POLL)


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


@dataclass(frozen=True)
class ApprovedTemplate:
    """A template Meta approved: sent by name and language; ``body`` is its text as the
    customer reads it (placeholders such as {{1}} included)."""

    name: str
    language: str
    body: str
    category: str | None

    @property
    def reference(self) -> str:
        # How TemplateMessage names a Meta template: "name:language".
        return f"{self.name}:{self.language}"


@dataclass(frozen=True)
class FetchedMedia:
    content_type: str
    data: bytes


class MediaTooLarge(SendFailed):
    """The file is larger than the organization keeps: waiting will not change that."""

    def __init__(self, message: str, *, code: str | None = "too_large") -> None:
        super().__init__(message, code=code, retryable=False)


@runtime_checkable
class MediaSource(Protocol):
    """A channel whose customers' media the provider holds and hands over on request."""

    def fetch_media(self, media_id: str, *, access_token: str, max_bytes: int) -> FetchedMedia:
        """The file behind a media id.

        Raises:
            MediaTooLarge: it is over ``max_bytes``.
            SendFailed: the provider refused or could not be reached.
        """
        ...


@runtime_checkable
class TemplateSource(Protocol):
    """A channel whose provider keeps the business's approved templates and lists them."""

    def approved_templates(self, *, waba_id: str, access_token: str) -> list[ApprovedTemplate]:
        """Every approved template of the account.

        Raises:
            SendFailed: the provider refused the listing or could not be reached.
        """
        ...


class Channel(Protocol):
    name: str
    max_text_length: int

    def parse(self, payload: Any, *, org_slug: str, received_at: datetime) -> list[InboundMessage]:
        """Turn a provider's request payload into inbound messages; pure, no I/O.

        Raises:
            MalformedRequest: a field we need is missing or unusable.
        """
        ...

    @property
    def capabilities(self) -> ChannelCapabilities: ...

    def render(self, replies: Sequence[OutboundMessage], **context: Any) -> Any:
        """Turn replies into the provider's synchronous response body."""
        ...

    def send(
        self,
        message: OutboundMessage,
        *,
        to: Recipient,
        account: ProviderAccount | None = None,
    ) -> SendReceipt:
        """Send one stored message (``message.message_id`` set) of at most ``max_text_length``.

        Push channels call the provider once (retries are delivery's); pull channels hold the
        message for the next poll. A ``TemplateMessage`` goes out as the template where the
        channel has templates, as its text elsewhere.

        Raises:
            SendFailed: the message did not go out; ``retryable`` says whether to try again.
        """
        ...


@runtime_checkable
class ReadReceipts(Protocol):
    """A push channel that can show the customer their message was read and a reply is
    being written (WhatsApp's blue ticks and typing indicator)."""

    def mark_read(self, account: ProviderAccount, provider_message_id: str) -> None:
        """Mark the customer's message read and show the typing indicator.

        Raises:
            SendFailed: the provider refused it or could not be reached.
        """
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

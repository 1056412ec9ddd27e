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
    # Another identifier of the same sender (the phone beside Meta's business-scoped id).
    sender_alias: str | None = None

    def __post_init__(self) -> None:
        for name in ("org_slug", "channel", "sender_id", "provider_message_id"):
            if not getattr(self, name):
                raise ValueError(f"InboundMessage.{name} is required")
        if self.received_at.tzinfo is None:
            raise ValueError("InboundMessage.received_at must be timezone-aware")


@dataclass(frozen=True)
class IdentityLink:
    """Two identifiers of one customer on a channel: the contact is keyed by ``address`` from
    now on, and ``alias`` still finds it (Meta's business-scoped user id and the phone)."""

    channel: str
    address: str
    alias: str


@dataclass(frozen=True)
class IdentityChange:
    """The customer's identifier ``old`` became ``new`` (a changed phone number, a new
    business-scoped id). ``old`` stops naming them: a phone number given up is someone
    else's next, and must not open this customer's history."""

    channel: str
    old: str
    new: str


@dataclass(frozen=True)
class Reaction:
    """A customer's emoji on a message (``emoji`` None: the reaction was taken back)."""

    channel: str
    sender_id: str
    provider_message_id: str
    emoji: str | None


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


class Outcome(StrEnum):
    """What a bot reply did, recorded with it: reports and insights read this, never the text."""

    ANSWERED = "answered"
    CLARIFY = "clarify"  # asked to rephrase
    OFFERED_CHOICES = "offered_choices"  # "did you mean one of these?"
    OFFERED_HANDOFF = "offered_handoff"  # the articles have no answer: "shall I get a person?"
    HANDOFF = "handoff"
    SMALL_TALK = "small_talk"
    RATED = "rated"  # thanked for a rating of a person's help
    LANGUAGE_CHOSEN = "language_chosen"  # "ongea Kiswahili": confirmed in the new language
    PRIVACY = "privacy"  # a data-protection request answered
    PRIVACY_NOTICE = "privacy_notice"
    OPTED_OUT = "opted_out"
    OPTED_IN = "opted_in"
    UNSUPPORTED_MEDIA = "unsupported_media"


_OUTCOME_OF_KIND = {
    ReplyKind.ANSWER: Outcome.ANSWERED,
    ReplyKind.SMALL_TALK: Outcome.SMALL_TALK,
    ReplyKind.PRIVACY_NOTICE: Outcome.PRIVACY_NOTICE,
    ReplyKind.CLARIFY: Outcome.CLARIFY,
    ReplyKind.HANDOFF: Outcome.HANDOFF,
    ReplyKind.OPT_OUT_CONFIRMATION: Outcome.OPTED_OUT,
    ReplyKind.OPT_IN_CONFIRMATION: Outcome.OPTED_IN,
    ReplyKind.UNSUPPORTED_MEDIA: Outcome.UNSUPPORTED_MEDIA,
    ReplyKind.PRIVACY: Outcome.PRIVACY,
}


@dataclass(frozen=True)
class ReplyOption:
    """One choice a reply offers ("did you mean one of these?"): channels render it as a button
    or a list row where they can. ``id`` is what the customer would type to pick it ("1"), so a
    tap and a typed answer are the same message to the bot."""

    id: str
    title: str


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
    # Set where the kind alone does not say it (a clarification that offers choices, say).
    outcome: Outcome | None = None
    options: tuple[ReplyOption, ...] = ()

    @property
    def outcome_code(self) -> Outcome:
        """The recorded outcome: the explicit one, else the one its kind implies."""
        return self.outcome or _OUTCOME_OF_KIND[self.kind]


@dataclass(frozen=True)
class Turn:
    """What handling one inbound message produced."""

    replies: tuple[OutboundMessage, ...]
    inbound_message_id: int | None
    duplicate: bool = False
    # The turn erased its customer: its replies were not kept, and go out only once, now.
    erased: bool = False
    notes: tuple[str, ...] = field(default=())

"""SQLModel tables. Every row but an organization's own belongs to exactly one organization.

Rows that hold personal data carry ``retain_until`` and ``legal_hold`` from the moment they are
written, so that retention can be enforced without guessing what a row is.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as UTC and always returns them aware (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _json(empty: type) -> Any:
    # Pydantic reads a default factory's signature on every construction; a builtin's (list,
    # dict) is parsed from its text each time, ~50 µs a field, a plain function's is not.
    def factory() -> Any:
        return empty()

    return Field(default_factory=factory, sa_column=Column(JSON, nullable=False))


def _utc_column(nullable: bool = False, index: bool = False) -> Any:
    return Field(sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class LawfulBasis(StrEnum):
    CONSENT = "consent"
    # Keeping the record of an opt-out, and the confirmation of it, is needed to honour it.
    LEGITIMATE_INTERESTS = "legitimate_interests"


class ConsentAction(StrEnum):
    GRANTED = "granted"
    WITHDRAWN = "withdrawn"


class ConversationStatus(StrEnum):
    BOT = "bot"
    HANDOFF = "handoff"


class HandoffStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


def _text(nullable: bool = False) -> Any:
    # Encrypted values are longer than their plaintext: sealed columns are unbounded text.
    return Field(default=None if nullable else ..., sa_column=Column(Text, nullable=nullable))


class Organization(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(index=True, unique=True, max_length=64)
    name: str = Field(max_length=200)
    twilio_auth_token: str | None = _text(nullable=True)
    privacy_notice_text: str = Field(sa_column=Column(Text, nullable=False))
    privacy_notice_version: int = 1
    privacy_policy_url: str | None = Field(default=None, max_length=500)
    retention_days: int = 365
    # Bumped in the same transaction as any change to the knowledge base, so that every process
    # can tell that its in-memory index is stale.
    kb_revision: int = 0
    legal_hold: bool = False
    # "No external AI providers": no text of this organization leaves the machine.
    external_ai_allowed: bool = False
    # Nothing of this organization goes into training, evaluation or analytics exports.
    exclude_from_training: bool = False
    # The admin's explicit yes to adapting the answer model to the organization's own phrasings
    # (knowledge_index/tuning.py) although it is excluded from training: the adaptation never
    # leaves its snapshot, but the opt-out is theirs to lift, so excluded means untuned until then.
    tuning_opt_in: bool = False
    # Set when the data key was destroyed (crypto-shredding): the organization is gone.
    data_destroyed_at: datetime | None = _utc_column(nullable=True)
    # Retention per kind of record, in days (conversations and messages use retention_days).
    handoff_retention_days: int = 365
    privacy_record_retention_days: int = 1095
    audit_retention_days: int = 1095
    # Days allowed per data-protection right, where the organization is held to less than 30.
    privacy_due_days: dict[str, int] = _json(dict)
    # Closing the account schedules complete deletion; reopening before then cancels it.
    closed_at: datetime | None = _utc_column(nullable=True)
    deletion_due_at: datetime | None = _utc_column(nullable=True)
    # WhatsApp through Twilio's REST API (agent replies): the account and the sender number.
    twilio_account_sid: str | None = Field(default=None, max_length=64)
    whatsapp_sender: str | None = Field(default=None, max_length=64)
    # Signs the ids of customers signed in on the organization's own site, so that the web chat
    # trusts them across devices (channels/visitor_identity.py); sealed like the Twilio token.
    webchat_identity_secret: str | None = _text(nullable=True)
    # WhatsApp through Meta's Cloud API: the sending number's id, its business account, and the
    # app's secret (signs webhooks), access token (Graph API) and verify token (the handshake).
    meta_phone_number_id: str | None = Field(default=None, max_length=64)
    meta_waba_id: str | None = Field(default=None, max_length=64)
    meta_app_secret: str | None = _text(nullable=True)
    meta_access_token: str | None = _text(nullable=True)
    meta_verify_token: str | None = _text(nullable=True)
    # Customers' media is kept as metadata only unless the organization asks for the files
    # (an agent then plays a voice note in the console).
    fetch_media: bool = False
    # Quotas of this organization (None: the service's defaults in the settings). Messages
    # beyond the per-minute quota are kept and answered when it allows, never dropped.
    quota_messages_per_minute: int | None = None
    quota_visitors_per_hour: int | None = None
    quota_storage_mb: int | None = None
    contact_email: str | None = _text(nullable=True)
    team_size: str | None = Field(default=None, max_length=32)
    # Names the organization's daily counts; once the organization is deleted it names nobody.
    analytics_ref: str = Field(default_factory=lambda: secrets.token_hex(12), max_length=64)
    # An AI provider of the organization's own (keys are theirs, sealed like their data). Used
    # only while external_ai_allowed is on; generative_answers lets it write the answers.
    ai_provider: str | None = Field(default=None, max_length=32)
    ai_model: str | None = Field(default=None, max_length=100)
    ai_api_key: str | None = _text(nullable=True)
    ai_base_url: str | None = Field(default=None, max_length=500)
    generative_answers: bool = False
    # A Rasa server the organization already runs: asked for the intent before our retrieval.
    rasa_url: str | None = Field(default=None, max_length=500)
    created_at: datetime = _utc_column()


class OrgKey(SQLModel, table=True):
    """An organization's data key, wrapped by a master key. Never part of a backup."""

    __table_args__ = (UniqueConstraint("org_id", "version", name="uq_orgkey_version"),)

    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organization.id", index=True)
    version: int = 1
    wrapped: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    wrap_nonce: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    master_key_id: str = Field(max_length=64)
    created_at: datetime = _utc_column()
    destroyed_at: datetime | None = _utc_column(nullable=True)


class Contact(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("org_id", "channel", "address_hash", name="uq_contact_identity"),
    )

    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organization.id", index=True)
    channel: str = Field(max_length=32)
    address: str = _text()
    # Keyed hash of channel and address: exact-match lookup without the number in clear.
    address_hash: str = Field(max_length=64)
    # A second identifier of the same person on the channel (the phone number beside Meta's
    # business-scoped user id): messages that carry only it still find the contact.
    alias: str | None = _text(nullable=True)
    alias_hash: str | None = Field(default=None, max_length=64, index=True)
    display_name: str | None = _text(nullable=True)
    email: str | None = _text(nullable=True)
    preferred_language: str | None = Field(default=None, max_length=8)
    opted_out: bool = False
    # Restriction or objection: kept, but processed by no AI, analytics or training.
    restricted: bool = False
    is_minor: bool = False
    erasure_review_due: datetime | None = _utc_column(nullable=True)
    created_at: datetime = _utc_column()
    retain_until: datetime = _utc_column(index=True)
    legal_hold: bool = False


class ConsentRecord(SQLModel, table=True):
    """Append-only: a withdrawal is a new record, never an update (enforced in ``storage.db``)."""

    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organization.id", index=True)
    contact_id: int = Field(foreign_key="contact.id", index=True)
    action: ConsentAction
    purpose: str = Field(max_length=100)
    channel: str = Field(max_length=32)
    notice_version: int
    method: str = _text()
    created_at: datetime = _utc_column()
    retain_until: datetime = _utc_column(index=True)
    legal_hold: bool = False


class Conversation(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organization.id", index=True)
    contact_id: int = Field(foreign_key="contact.id", index=True)
    channel: str = Field(max_length=32)
    status: ConversationStatus = ConversationStatus.BOT
    started_at: datetime = _utc_column()
    last_message_at: datetime = _utc_column()
    retain_until: datetime = _utc_column(index=True)
    legal_hold: bool = False


class Message(SQLModel, table=True):
    __table_args__ = (
        # Twilio retries deliveries: the database, not a lookup, guarantees one row per SID.
        # Per contact: a web chat's ids come from the client, and one visitor's id must never
        # match (and replay) another's message.
        UniqueConstraint(
            "org_id",
            "channel",
            "direction",
            "contact_id",
            "provider_message_id",
            name="uq_message_provider_id",
        ),
        Index("ix_message_conversation_created", "conversation_id", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organization.id", index=True)
    conversation_id: int = Field(foreign_key="conversation.id")
    contact_id: int = Field(foreign_key="contact.id", index=True)
    direction: Direction
    channel: str = Field(max_length=32)
    provider_message_id: str | None = Field(default=None, max_length=100)
    reply_to_id: int | None = Field(default=None, foreign_key="message.id", index=True)
    position: int = 0
    kind: str = Field(max_length=32)
    body: str = Field(default="", sa_column=Column(Text, nullable=False))
    media: list[dict[str, Any]] = _json(list)
    button_payload: str | None = Field(default=None, max_length=256)
    sources: list[dict[str, Any]] = _json(list)
    # The choices a bot reply offered ({"id", "title"}), for channels that render them.
    options: list[dict[str, str]] = _json(list)
    answer_entry_id: int | None = Field(default=None, foreign_key="knowledgeentry.id")
    answer_score: float | None = None
    handoff: bool = False
    # What a bot reply did (channels.messages.Outcome: answered, clarify, offered_choices, ...)
    # and, when its turn handed off, why; reports read these, never the reply's words.
    outcome: str | None = Field(default=None, max_length=32, index=True)
    handoff_reason: str | None = Field(default=None, max_length=32)
    ai_processed: bool = False
    # Set on replies written by a person in the console.
    agent_id: int | None = Field(default=None, foreign_key="agentaccount.id")
    send_attempts: int = 0
    template_sid: str | None = Field(default=None, max_length=64)
    delivery_status: str | None = Field(default=None, max_length=32)
    delivery_error_code: str | None = Field(default=None, max_length=32)
    # What the provider says the message costs (Meta's pricing category); None: not told.
    pricing_category: str | None = Field(default=None, max_length=32)
    delivery_updated_at: datetime | None = _utc_column(nullable=True)
    # The customer's reaction (an emoji) to this message, as the channel reported it last.
    reaction: str | None = Field(default=None, max_length=32)
    consent_record_id: int | None = Field(default=None, foreign_key="consentrecord.id")
    lawful_basis: LawfulBasis
    created_at: datetime = _utc_column()
    retain_until: datetime = _utc_column(index=True)
    legal_hold: bool = False


class MediaFile(SQLModel, table=True):
    """A customer's media (a voice note, a photo) fetched from the provider because the
    organization asked for it: sealed under the organization's key, and deleted with its
    message by the database itself (erasure, retention, the organization's deletion)."""

    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organization.id", index=True)
    message_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("message.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    position: int = 0
    content_type: str = Field(max_length=100)
    size: int
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    fetched_at: datetime = _utc_column()


class KnowledgeEntry(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("org_id", "external_id", name="uq_entry_external_id"),)

    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organization.id", index=True)
    external_id: str = Field(max_length=200)
    question: str = Field(sa_column=Column(Text, nullable=False))
    answer: str = Field(sa_column=Column(Text, nullable=False))
    category: str | None = Field(default=None, max_length=200)
    source: str = Field(max_length=300)
    # "faq" (a question and its answer), "passage" (a piece of a longer document) or "intent"
    # (imported from Rasa training data).
    kind: str = Field(default="faq", max_length=16)
    # Where in its source the entry was found (a page, a heading path), for citations.
    location: str | None = Field(default=None, max_length=300)
    # The language of ``answer`` (an ISO 639-1 code), and the answer in other languages as a
    # JSON object {code: text}: text, not a JSON column, because it is sealed like the answer.
    language: str = Field(default="en", max_length=8)
    answer_translations: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # The question in other languages, the same way (how choices are listed in them).
    question_translations: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    position: int = 0
    # Disabled entries stay in the console but the bot never answers from them.
    enabled: bool = True
    created_at: datetime = _utc_column()
    updated_at: datetime = _utc_column()


class DocumentStatus(StrEnum):
    QUEUED = "queued"
    PROCESSING = "processing"
    READY = "ready"
    FAILED = "failed"


class KnowledgeDocument(SQLModel, table=True):
    """An uploaded file; its entries carry its name as their ``source``."""

    __table_args__ = (UniqueConstraint("org_id", "name", name="uq_document_name"),)

    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organization.id", index=True)
    name: str = Field(max_length=300)
    media_type: str = Field(max_length=100)
    size_bytes: int = 0
    sha256: str = Field(max_length=64)
    status: DocumentStatus = DocumentStatus.QUEUED
    error: str | None = _text(nullable=True)
    entries: int = 0
    uploaded_by: str | None = Field(default=None, max_length=200)
    created_at: datetime = _utc_column()
    updated_at: datetime = _utc_column()


class IngestionJob(SQLModel, table=True):
    """One upload being parsed, embedded and indexed in the background, with its progress."""

    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organization.id", index=True)
    document_id: int = Field(foreign_key="knowledgedocument.id", index=True)
    status: DocumentStatus = DocumentStatus.QUEUED
    stage: str = Field(default="queued", max_length=32)
    done: int = 0
    total: int = 0
    created: int = 0
    updated: int = 0
    removed: int = 0
    error: str | None = _text(nullable=True)
    created_at: datetime = _utc_column()
    started_at: datetime | None = _utc_column(nullable=True)
    finished_at: datetime | None = _utc_column(nullable=True)


class ApiToken(SQLModel, table=True):
    """A bearer token for the REST API, scoped to one organization; only its hash is kept."""

    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organization.id", index=True)
    name: str = Field(max_length=100)
    token_hash: str = Field(max_length=64, unique=True)
    prefix: str = Field(max_length=16)
    created_at: datetime = _utc_column()
    last_used_at: datetime | None = _utc_column(nullable=True)
    revoked_at: datetime | None = _utc_column(nullable=True)


class AIUsage(SQLModel, table=True):
    """One call to an AI provider: what for, how many tokens, how it went (never the text)."""

    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organization.id", index=True)
    provider: str = Field(max_length=32)
    model: str = Field(max_length=100)
    purpose: str = Field(max_length=32)
    input_tokens: int = 0
    output_tokens: int = 0
    outcome: str = Field(max_length=16)
    latency_ms: int = 0
    created_at: datetime = _utc_column(index=True)


class KnowledgePhrasing(SQLModel, table=True):
    """One way of asking an entry's question; its id is the vector id in the index."""

    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organization.id", index=True)
    entry_id: int = Field(foreign_key="knowledgeentry.id", index=True)
    text: str = Field(sa_column=Column(Text, nullable=False))
    position: int = 0


class PrivacyRequestStatus(StrEnum):
    AWAITING_CONFIRMATION = "awaiting_confirmation"
    OPEN = "open"
    BLOCKED = "blocked"
    COMPLETED = "completed"
    REFUSED = "refused"
    CANCELLED = "cancelled"


class PrivacyRequest(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organization.id", index=True)
    # Cleared when the contact is erased; the request itself is kept as proof it was honoured.
    contact_id: int | None = Field(default=None, foreign_key="contact.id", index=True)
    right: str = Field(max_length=32)
    status: str = Field(max_length=32)
    channel: str = Field(max_length=32)
    received_at: datetime = _utc_column()
    due_at: datetime = _utc_column(index=True)
    completed_at: datetime | None = _utc_column(nullable=True)
    detail: str | None = _text(nullable=True)
    outcome: str | None = Field(default=None, max_length=300)
    retain_until: datetime = _utc_column(index=True)
    legal_hold: bool = False


class AuditEvent(SQLModel, table=True):
    """Who did what to personal data and its protections: never the data itself."""

    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organization.id", index=True)
    at: datetime = _utc_column()
    actor: str = Field(max_length=120)
    action: str = Field(max_length=64)
    subject: str = Field(max_length=120)
    note: str | None = Field(default=None, max_length=500)
    privacy_request_id: int | None = Field(
        default=None, foreign_key="privacyrequest.id", index=True
    )
    retain_until: datetime = _utc_column(index=True)


class ErasureTombstone(SQLModel, table=True):
    """That an erasure happened, when, and keyed hashes that stop replays from restoring it."""

    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organization.id", index=True)
    identity_hash: str = Field(max_length=64, index=True)
    message_id_hashes: list[str] = _json(list)
    erased_at: datetime = _utc_column()
    privacy_request_id: int | None = Field(default=None, foreign_key="privacyrequest.id")


class DeliveryKey(SQLModel, table=True):
    """That a delivery was received: a keyed hash of its provider id, kept for as long as the
    provider may redeliver it, however soon the message itself is erased or expires."""

    __table_args__ = (UniqueConstraint("org_id", "key_hash", name="uq_delivery_key"),)

    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organization.id", index=True)
    key_hash: str = Field(max_length=64)
    expires_at: datetime = _utc_column(index=True)


class PendingTurn(SQLModel, table=True):
    """A customer's message accepted by a webhook and not yet answered: the durable record
    that it must be, whatever happens to the job queue or the worker that took it. Sealed
    like the message; deleted once its turn is stored, or with its contact on erasure."""

    __table_args__ = (UniqueConstraint("org_id", "delivery_hash", name="uq_pending_delivery"),)

    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organization.id", index=True)
    # Keyed hashes: of the sender (erasure finds their pending messages) and of the delivery
    # (a provider's retry while the first is pending adds nothing).
    sender_hash: str = Field(max_length=64, index=True)
    delivery_hash: str = Field(max_length=64)
    sealed: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    received_at: datetime = _utc_column()
    # Not to be answered before (an organization over its quota); queued_at: when a job last
    # took it (None: never, it waits for its time).
    not_before: datetime = _utc_column(index=True)
    queued_at: datetime | None = _utc_column(nullable=True)
    attempts: int = 0


class LegalHold(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organization.id", index=True)
    scope: str = Field(max_length=16)  # organization, contact or conversation
    target_id: int
    reason: str = _text()
    placed_by: str = Field(max_length=120)
    placed_at: datetime = _utc_column()
    lifted_by: str | None = Field(default=None, max_length=120)
    lifted_at: datetime | None = _utc_column(nullable=True)


class PrivacyNotice(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("org_id", "version", name="uq_notice_version"),)

    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organization.id", index=True)
    version: int
    text: str = Field(sa_column=Column(Text, nullable=False))
    material: bool = True
    published_at: datetime = _utc_column()


class AnalyticsDaily(SQLModel, table=True):
    """Counts per day that outlive a deleted organization: no identities, no text."""

    __table_args__ = (UniqueConstraint("org_ref", "day", name="uq_analytics_day"),)

    id: int | None = Field(default=None, primary_key=True)
    org_ref: str = Field(max_length=64, index=True)
    day: str = Field(max_length=10)
    inbound: int = 0
    answers: int = 0
    handoffs: int = 0


class Team(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("org_id", "name", name="uq_team_name"),)

    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organization.id", index=True)
    name: str = Field(max_length=100)


class AgentRole(StrEnum):
    AGENT = "agent"
    ADMIN = "admin"
    KNOWLEDGE_MANAGER = "knowledge_manager"


class AgentAccount(SQLModel, table=True):
    """A person who signs in to the console: an agent, an admin or a knowledge manager."""

    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organization.id", index=True)
    email: str = Field(max_length=254, unique=True, index=True)
    name: str = Field(max_length=200)
    password_hash: str | None = Field(default=None, max_length=100)
    role: str = Field(max_length=32)
    team_id: int | None = Field(default=None, foreign_key="team.id")
    languages: list[str] = _json(list)
    available: bool = True
    email_verified_at: datetime | None = _utc_column(nullable=True)
    failed_logins: int = 0
    locked_until: datetime | None = _utc_column(nullable=True)
    disabled_at: datetime | None = _utc_column(nullable=True)
    # Part of every session: bumping it (password reset, disabling) ends existing sessions.
    session_version: int = 1
    created_at: datetime = _utc_column()


class RoutingRule(SQLModel, table=True):
    """How an organization routes handoffs: a topic, its words, its team and priority."""

    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organization.id", index=True)
    # "topic": matches the topic (a KB category or a keyword rule); "language": an ISO code.
    kind: str = Field(max_length=16)
    value: str = Field(max_length=100)
    # Words or phrases that put a message in this topic, for topic rules (case-folded).
    keywords: list[str] = _json(list)
    # Example messages of this topic: a message close enough in meaning matches too.
    examples: list[str] = _json(list)
    team_id: int | None = Field(default=None, foreign_key="team.id")
    priority: int = 0
    always_human: bool = False
    position: int = 0


class MessageTemplate(SQLModel, table=True):
    """An approved WhatsApp template, for replies after the 24 h window: a Twilio Content SID,
    or Meta's "name:language" (``provider`` says which, and so which conversations it fits)."""

    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organization.id", index=True)
    name: str = Field(max_length=100)
    provider: str = Field(default="twilio", max_length=16)
    content_sid: str = Field(max_length=64)
    body: str = Field(sa_column=Column(Text, nullable=False))


class Handoff(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organization.id", index=True)
    conversation_id: int = Field(foreign_key="conversation.id", index=True)
    contact_id: int = Field(foreign_key="contact.id", index=True)
    reason: str = Field(max_length=64)
    detail: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    status: HandoffStatus = HandoffStatus.OPEN
    created_at: datetime = _utc_column()
    resolved_at: datetime | None = _utc_column(nullable=True)
    rating: int | None = None
    topic: str | None = Field(default=None, max_length=100)
    language: str | None = Field(default=None, max_length=8)
    sentiment: float | None = None
    urgency: str = Field(default="normal", max_length=16)
    priority: int = 0
    team_id: int | None = Field(default=None, foreign_key="team.id", index=True)
    assigned_agent_id: int | None = Field(default=None, foreign_key="agentaccount.id", index=True)
    taken_at: datetime | None = _utc_column(nullable=True)
    routing_reasons: list[str] = _json(list)
    summary: str | None = _text(nullable=True)
    suggested_entry_ids: list[int] = _json(list)
    retain_until: datetime = _utc_column(index=True)
    legal_hold: bool = False

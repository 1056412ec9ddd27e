"""Repositories: the only code that queries tables.

``Organizations`` finds and creates organizations. Everything else goes through
``OrgData``, which is built for exactly one organization and adds that organization to every
query and every row it writes, so no caller can forget the scope.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Literal, get_args

from sqlalchemy import func, or_
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col, select

from imaradesk.storage.encryption import Keystore

# Re-exported: callers imported it from here before knowledge_repository.py held it.
from imaradesk.storage.knowledge_repository import EntryConflict as EntryConflict
from imaradesk.storage.knowledge_repository import (
    EntryDraftFields,
    KnowledgeChange,
    KnowledgeData,
)
from imaradesk.storage.models import (
    AnalyticsDaily,
    ConsentAction,
    ConsentRecord,
    Contact,
    Conversation,
    ConversationStatus,
    DeliveryKey,
    Direction,
    Handoff,
    HandoffStatus,
    KnowledgeEntry,
    KnowledgePhrasing,
    Message,
    Organization,
)

# Re-exported: callers imported them from here before organization_repository.py held them.
from imaradesk.storage.organization_repository import SLUG_PATTERN as SLUG_PATTERN
from imaradesk.storage.organization_repository import InvalidSlug as InvalidSlug
from imaradesk.storage.organization_repository import Organizations as Organizations
from imaradesk.storage.scoped import OrgScoped
from imaradesk.storage.tables import table_of

CorrectableField = Literal["display_name", "email", "preferred_language"]
CORRECTABLE_FIELDS: tuple[str, ...] = get_args(CorrectableField)


class OrgData(OrgScoped):
    """All reads and writes of one organization's data."""

    # -- organization ----------------------------------------------------------------------

    def organization(self) -> Organization:
        org = self._session.get(Organization, self.org_id)
        if org is None:
            raise LookupError(f"organization {self.org_id} does not exist")
        return org

    # -- contacts and consent ----------------------------------------------------------------

    def identity_hash(self, channel: str, address: str) -> str:
        """The keyed hash that finds a contact without storing its address in clear."""
        keystore = self._session.info.get("keystore")
        if not isinstance(keystore, Keystore):
            raise RuntimeError("sessions must come from Database, which carries the keystore")
        return keystore.identity_hash(self.org_id, f"{channel}:{address}")

    def find_contact(self, channel: str, address: str) -> Contact | None:
        """The contact this address names: its own address first, else its alias."""
        key = self.identity_hash(channel, address)
        found = self._session.exec(
            select(Contact).where(
                Contact.org_id == self.org_id,
                Contact.channel == channel,
                or_(col(Contact.address_hash) == key, col(Contact.alias_hash) == key),
            )
        ).all()
        return min(found, key=lambda c: (c.address_hash != key, c.id or 0), default=None)

    def delivery_key(self, channel: str, sender: str, provider_message_id: str) -> str:
        # The sender is part of it: a web chat's ids are chosen by the client, and one
        # visitor's id must never make another's message a duplicate.
        return self.identity_hash(channel, f"delivery|{sender}|{provider_message_id}")

    def delivery_seen(self, key_hash: str) -> bool:
        return (
            self._session.exec(
                select(DeliveryKey.id).where(
                    DeliveryKey.org_id == self.org_id, DeliveryKey.key_hash == key_hash
                )
            ).first()
            is not None
        )

    def add_contact(
        self,
        *,
        channel: str,
        address: str,
        display_name: str | None,
        now: datetime,
        retain_until: datetime,
        legal_hold: bool = False,
        alias: str | None = None,
    ) -> Contact:
        contact = Contact(
            org_id=self.org_id,
            channel=channel,
            address=address,
            address_hash=self.identity_hash(channel, address),
            alias=alias,
            alias_hash=self.identity_hash(channel, alias) if alias else None,
            display_name=display_name,
            created_at=now,
            retain_until=retain_until,
            legal_hold=legal_hold,
        )
        self._session.add(contact)
        self._session.flush()
        return contact

    def correct_contact(self, contact: Contact, *, field: CorrectableField, value: str) -> None:
        """Rectification: replace one profile field the customer asked us to correct."""
        self._check_owned(contact)
        if field not in CORRECTABLE_FIELDS:
            raise ValueError(f"{field!r} is not a field a customer can correct")
        setattr(contact, field, value)
        self._session.add(contact)

    def set_restricted(self, contact: Contact, *, restricted: bool) -> None:
        """Restriction of processing: no AI, analytics or training while it holds."""
        self._check_owned(contact)
        contact.restricted = restricted
        self._session.add(contact)

    def latest_consent(self, contact_id: int) -> ConsentRecord | None:
        return self._session.exec(
            select(ConsentRecord)
            .where(ConsentRecord.org_id == self.org_id, ConsentRecord.contact_id == contact_id)
            .order_by(col(ConsentRecord.id).desc())
        ).first()

    def consent_history(self, contact_id: int) -> Sequence[ConsentRecord]:
        return self._session.exec(
            select(ConsentRecord)
            .where(ConsentRecord.org_id == self.org_id, ConsentRecord.contact_id == contact_id)
            .order_by(col(ConsentRecord.id))
        ).all()

    def add_consent(
        self,
        *,
        contact_id: int,
        action: ConsentAction,
        purpose: str,
        channel: str,
        notice_version: int,
        method: str,
        now: datetime,
        retain_until: datetime,
    ) -> ConsentRecord:
        record = ConsentRecord(
            org_id=self.org_id,
            contact_id=contact_id,
            action=action,
            purpose=purpose,
            channel=channel,
            notice_version=notice_version,
            method=method,
            created_at=now,
            retain_until=retain_until,
        )
        self._session.add(record)
        self._session.flush()
        return record

    # -- conversations and messages -----------------------------------------------------------

    def current_conversation(self, contact_id: int) -> Conversation | None:
        return self._session.exec(
            select(Conversation)
            .where(Conversation.org_id == self.org_id, Conversation.contact_id == contact_id)
            .order_by(col(Conversation.id).desc())
        ).first()

    def add_conversation(
        self,
        *,
        contact_id: int,
        channel: str,
        now: datetime,
        retain_until: datetime,
        legal_hold: bool = False,
    ) -> Conversation:
        conversation = Conversation(
            org_id=self.org_id,
            contact_id=contact_id,
            channel=channel,
            started_at=now,
            last_message_at=now,
            retain_until=retain_until,
            legal_hold=legal_hold,
        )
        self._session.add(conversation)
        self._session.flush()
        return conversation

    def conversations_of(self, contact_id: int) -> Sequence[Conversation]:
        return self._session.exec(
            select(Conversation)
            .where(Conversation.org_id == self.org_id, Conversation.contact_id == contact_id)
            .order_by(col(Conversation.id))
        ).all()

    def find_message(
        self,
        *,
        channel: str,
        direction: Direction,
        provider_message_id: str,
        contact_id: int | None = None,
    ) -> Message | None:
        query = select(Message).where(
            Message.org_id == self.org_id,
            Message.channel == channel,
            Message.direction == direction,
            Message.provider_message_id == provider_message_id,
        )
        if contact_id is not None:
            query = query.where(Message.contact_id == contact_id)
        return self._session.exec(query).first()

    def get_message(self, message_id: int) -> Message | None:
        return self._session.exec(
            select(Message).where(Message.org_id == self.org_id, Message.id == message_id)
        ).first()

    def replies_to(self, message_id: int) -> Sequence[Message]:
        return self._session.exec(
            select(Message)
            .where(Message.org_id == self.org_id, Message.reply_to_id == message_id)
            .order_by(col(Message.position), col(Message.id))
        ).all()

    def messages_of(self, conversation_id: int) -> Sequence[Message]:
        return self._session.exec(
            select(Message)
            .where(Message.org_id == self.org_id, Message.conversation_id == conversation_id)
            .order_by(col(Message.created_at), col(Message.id))
        ).all()

    def flush(self) -> None:
        self._session.flush()

    def count_turn(self, *, analytics_ref: str, day: str, answers: int, handoffs: int) -> None:
        """Add one inbound message and its outcome to the day's anonymous counts."""
        table = table_of(AnalyticsDaily)
        dialect = self._session.get_bind().dialect.name
        insert = sqlite_insert if dialect == "sqlite" else postgresql_insert
        statement = insert(table).values(
            org_ref=analytics_ref, day=day, inbound=1, answers=answers, handoffs=handoffs
        )
        statement = statement.on_conflict_do_update(
            index_elements=["org_ref", "day"],
            set_={
                "inbound": table.c.inbound + 1,
                "answers": table.c.answers + answers,
                "handoffs": table.c.handoffs + handoffs,
            },
        )
        self._session.execute(statement)

    def count_messages(self) -> int:
        return self._session.exec(
            select(func.count()).select_from(Message).where(Message.org_id == self.org_id)
        ).one()

    # -- handoffs ---------------------------------------------------------------------------

    def open_handoff(self, conversation_id: int) -> Handoff | None:
        return self._session.exec(
            select(Handoff).where(
                Handoff.org_id == self.org_id,
                Handoff.conversation_id == conversation_id,
                Handoff.status == HandoffStatus.OPEN,
            )
        ).first()

    def handoff(self, handoff_id: int) -> Handoff | None:
        return self._session.exec(
            select(Handoff).where(Handoff.org_id == self.org_id, Handoff.id == handoff_id)
        ).first()

    def rate_handoff(self, handoff_id: int, rating: int) -> None:
        handoff = self.handoff(handoff_id)
        if handoff is not None and 1 <= rating <= 5:
            handoff.rating = rating
            self._session.add(handoff)

    def handoffs(self, *, status: HandoffStatus | None = None) -> Sequence[Handoff]:
        query = select(Handoff).where(Handoff.org_id == self.org_id)
        if status is not None:
            query = query.where(Handoff.status == status)
        return self._session.exec(query.order_by(col(Handoff.id))).all()

    def resolve_handoff(self, handoff_id: int, *, now: datetime) -> Handoff | None:
        """Resolve an open handoff; the bot gets the conversation back when none stays open."""
        handoff = self._session.exec(
            select(Handoff).where(
                Handoff.org_id == self.org_id,
                Handoff.id == handoff_id,
                Handoff.status == HandoffStatus.OPEN,
            )
        ).first()
        if handoff is None:
            return None
        handoff.status = HandoffStatus.RESOLVED
        handoff.resolved_at = now
        self._session.add(handoff)
        self._session.flush()
        conversation = self._session.get(Conversation, handoff.conversation_id)
        still_open = self.open_handoff(handoff.conversation_id)
        if conversation is not None and conversation.org_id == self.org_id and still_open is None:
            conversation.status = ConversationStatus.BOT
            self._session.add(conversation)
        return handoff

    def note_on_handoff(self, handoff: Handoff, note: str) -> None:
        self._check_owned(handoff)
        handoff.routing_reasons = [*handoff.routing_reasons, note]
        self._session.add(handoff)

    # -- knowledge base ---------------------------------------------------------------------------
    # Kept for callers that hold an OrgData; the queries live in knowledge_repository.py.

    def entries(self, *, enabled_only: bool = False) -> Sequence[KnowledgeEntry]:
        return self._knowledge.entries(enabled_only=enabled_only)

    def entries_by_id(self, entry_ids: Iterable[int]) -> dict[int, KnowledgeEntry]:
        return self._knowledge.entries_by_id(entry_ids)

    def phrasings(self, *, enabled_only: bool = False) -> Sequence[KnowledgePhrasing]:
        return self._knowledge.phrasings(enabled_only=enabled_only)

    def sync_entries(
        self,
        drafts: Sequence[EntryDraftFields],
        *,
        source: str,
        now: datetime,
        prune_missing: bool,
    ) -> KnowledgeChange:
        return self._knowledge.sync_entries(
            drafts, source=source, now=now, prune_missing=prune_missing
        )

    @property
    def _knowledge(self) -> KnowledgeData:
        return KnowledgeData(self._session, self.org_id)

    # -- helpers ---------------------------------------------------------------------------------

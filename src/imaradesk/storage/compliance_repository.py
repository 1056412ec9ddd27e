"""Reads and writes for data-protection work, scoped to one organization like ``OrgData``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, update
from sqlmodel import col, select

from imaradesk.storage.models import (
    AuditEvent,
    ConsentRecord,
    Contact,
    Conversation,
    ErasureTombstone,
    Handoff,
    LegalHold,
    Message,
    Organization,
    PrivacyRequest,
    PrivacyRequestStatus,
)
from imaradesk.storage.repositories import OrgData

OPEN_STATUSES = (
    PrivacyRequestStatus.AWAITING_CONFIRMATION,
    PrivacyRequestStatus.OPEN,
    PrivacyRequestStatus.BLOCKED,
)


@dataclass(frozen=True)
class ErasedCounts:
    messages: int
    conversations: int
    handoffs: int
    consent_records: int
    contacts: int


class ComplianceData(OrgData):
    # -- privacy requests -------------------------------------------------------------------

    def add_privacy_request(self, **fields: object) -> PrivacyRequest:
        request = PrivacyRequest(org_id=self.org_id, **fields)
        self._session.add(request)
        self._session.flush()
        return request

    def privacy_request(self, request_id: int) -> PrivacyRequest | None:
        return self._session.exec(
            select(PrivacyRequest).where(
                PrivacyRequest.org_id == self.org_id, PrivacyRequest.id == request_id
            )
        ).first()

    def privacy_requests(self, *, open_only: bool = False) -> Sequence[PrivacyRequest]:
        query = select(PrivacyRequest).where(PrivacyRequest.org_id == self.org_id)
        if open_only:
            query = query.where(col(PrivacyRequest.status).in_([s.value for s in OPEN_STATUSES]))
        return self._session.exec(query.order_by(col(PrivacyRequest.due_at))).all()

    def requests_of(self, contact_id: int) -> Sequence[PrivacyRequest]:
        return self._session.exec(
            select(PrivacyRequest)
            .where(PrivacyRequest.org_id == self.org_id, PrivacyRequest.contact_id == contact_id)
            .order_by(col(PrivacyRequest.id))
        ).all()

    def update_privacy_request(self, request: PrivacyRequest, **changes: object) -> None:
        self._check_owned(request)
        for name, value in changes.items():
            setattr(request, name, value)
        self._session.add(request)

    # -- audit -----------------------------------------------------------------------------

    def audit(
        self,
        *,
        actor: str,
        action: str,
        subject: str,
        now: datetime,
        retain_until: datetime,
        note: str | None = None,
        request_id: int | None = None,
    ) -> AuditEvent:
        event = AuditEvent(
            org_id=self.org_id,
            at=now,
            actor=actor,
            action=action,
            subject=subject,
            note=note,
            privacy_request_id=request_id,
            retain_until=retain_until,
        )
        self._session.add(event)
        self._session.flush()
        return event

    def audit_trail(self, request_id: int | None = None) -> Sequence[AuditEvent]:
        query = select(AuditEvent).where(AuditEvent.org_id == self.org_id)
        if request_id is not None:
            query = query.where(AuditEvent.privacy_request_id == request_id)
        return self._session.exec(query.order_by(col(AuditEvent.id))).all()

    # -- contacts' whole data -----------------------------------------------------------------

    def contact(self, contact_id: int) -> Contact | None:
        return self._session.exec(
            select(Contact).where(Contact.org_id == self.org_id, Contact.id == contact_id)
        ).first()

    def contacts(self) -> Sequence[Contact]:
        return self._session.exec(
            select(Contact).where(Contact.org_id == self.org_id).order_by(col(Contact.id))
        ).all()

    def messages_of_contact(self, contact_id: int) -> Sequence[Message]:
        return self._session.exec(
            select(Message)
            .where(Message.org_id == self.org_id, Message.contact_id == contact_id)
            .order_by(col(Message.created_at), col(Message.id))
        ).all()

    def handoffs_of(self, contact_id: int) -> Sequence[Handoff]:
        return self._session.exec(
            select(Handoff)
            .where(Handoff.org_id == self.org_id, Handoff.contact_id == contact_id)
            .order_by(col(Handoff.id))
        ).all()

    def erase_contact_rows(self, contact_id: int) -> ErasedCounts:
        """Delete every row about one contact; their privacy requests stay, unlinked."""
        scope = (Message.org_id == self.org_id, Message.contact_id == contact_id)
        self._session.execute(
            update(PrivacyRequest)
            .where(PrivacyRequest.org_id == self.org_id, PrivacyRequest.contact_id == contact_id)
            .values(contact_id=None, detail=None)
        )
        # Replies first: they point at the inbound messages they answer.
        replies = self._session.execute(
            delete(Message).where(*scope, col(Message.reply_to_id).is_not(None))
        ).rowcount
        messages = replies + self._session.execute(delete(Message).where(*scope)).rowcount
        handoffs = self._session.execute(
            delete(Handoff).where(Handoff.org_id == self.org_id, Handoff.contact_id == contact_id)
        ).rowcount
        conversations = self._session.execute(
            delete(Conversation).where(
                Conversation.org_id == self.org_id, Conversation.contact_id == contact_id
            )
        ).rowcount
        # Append-only for the application; erasure is the one lawful reason to remove them.
        consents = self._session.execute(
            delete(ConsentRecord).where(
                ConsentRecord.org_id == self.org_id, ConsentRecord.contact_id == contact_id
            )
        ).rowcount
        contacts = self._session.execute(
            delete(Contact).where(Contact.org_id == self.org_id, Contact.id == contact_id)
        ).rowcount
        return ErasedCounts(messages, conversations, handoffs, consents, contacts)

    # -- tombstones ------------------------------------------------------------------------------

    def add_tombstone(
        self,
        *,
        identity_hash: str,
        message_id_hashes: list[str],
        now: datetime,
        request_id: int | None,
    ) -> ErasureTombstone:
        tombstone = ErasureTombstone(
            org_id=self.org_id,
            identity_hash=identity_hash,
            message_id_hashes=message_id_hashes,
            erased_at=now,
            privacy_request_id=request_id,
        )
        self._session.add(tombstone)
        self._session.flush()
        return tombstone

    def tombstones_for(self, identity_hash: str) -> Sequence[ErasureTombstone]:
        return self._session.exec(
            select(ErasureTombstone).where(
                ErasureTombstone.org_id == self.org_id,
                ErasureTombstone.identity_hash == identity_hash,
            )
        ).all()

    # -- legal holds ------------------------------------------------------------------------------

    def add_hold(
        self, *, scope: str, target_id: int, reason: str, placed_by: str, placed_at: datetime
    ) -> LegalHold:
        hold = LegalHold(
            org_id=self.org_id,
            scope=scope,
            target_id=target_id,
            reason=reason,
            placed_by=placed_by,
            placed_at=placed_at,
        )
        self._session.add(hold)
        self._session.flush()
        return hold

    def hold(self, hold_id: int) -> LegalHold | None:
        return self._session.exec(
            select(LegalHold).where(LegalHold.org_id == self.org_id, LegalHold.id == hold_id)
        ).first()

    def active_holds(self) -> Sequence[LegalHold]:
        return self._session.exec(
            select(LegalHold)
            .where(LegalHold.org_id == self.org_id, col(LegalHold.lifted_at).is_(None))
            .order_by(col(LegalHold.id))
        ).all()

    def apply_hold_flags(self) -> None:
        """Make every row's ``legal_hold`` flag agree with the active holds."""
        holds = self.active_holds()
        org_held = any(h.scope == "organization" for h in holds)
        contacts = {h.target_id for h in holds if h.scope == "contact"}
        conversations = {h.target_id for h in holds if h.scope == "conversation"}
        if contacts:
            conversations |= set(
                self._session.exec(
                    select(Conversation.id).where(
                        Conversation.org_id == self.org_id,
                        col(Conversation.contact_id).in_(contacts),
                    )
                ).all()
            )
        self._session.execute(
            update(Organization).where(Organization.id == self.org_id).values(legal_hold=org_held)
        )
        for model, held in (
            (Contact, col(Contact.id).in_(contacts)),
            (Conversation, col(Conversation.id).in_(conversations)),
            (Message, col(Message.conversation_id).in_(conversations)),
            (Handoff, col(Handoff.conversation_id).in_(conversations)),
            (ConsentRecord, col(ConsentRecord.contact_id).in_(contacts)),
            (PrivacyRequest, col(PrivacyRequest.contact_id).in_(contacts)),
        ):
            self._session.execute(
                update(model).where(model.org_id == self.org_id).values(legal_hold=org_held)
            )
            if not org_held:
                self._session.execute(
                    update(model).where(model.org_id == self.org_id, held).values(legal_hold=True)
                )

    def count(self, model: type) -> int:
        return self._session.exec(
            select(func.count()).select_from(model).where(model.org_id == self.org_id)
        ).one()

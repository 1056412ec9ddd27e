"""Reads and writes for data-protection work, scoped to one organization like ``OrgData``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Executable, delete, func, update
from sqlmodel import SQLModel, col, select

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
    PendingTurn,
    PrivacyRequest,
    PrivacyRequestStatus,
)
from imaradesk.storage.repositories import OrgData
from imaradesk.storage.tables import table_of

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

    def open_privacy_request(
        self,
        *,
        contact_id: int | None,
        right: str,
        status: str,
        channel: str,
        received_at: datetime,
        due_at: datetime,
        retain_until: datetime,
        completed_at: datetime | None = None,
        outcome: str | None = None,
        detail: str | None = None,
    ) -> PrivacyRequest:
        request = PrivacyRequest(
            org_id=self.org_id,
            contact_id=contact_id,
            right=right,
            status=status,
            channel=channel,
            received_at=received_at,
            due_at=due_at,
            completed_at=completed_at,
            outcome=outcome,
            detail=detail,
            retain_until=retain_until,
        )
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

    def set_request_status(
        self,
        request: PrivacyRequest,
        *,
        status: str,
        outcome: str | None,
        completed_at: datetime | None,
    ) -> None:
        """Move a request on; ``completed_at`` is None while it is still open."""
        self._check_owned(request)
        request.status = status
        request.outcome = outcome
        request.completed_at = completed_at
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
        scope = (col(Message.org_id) == self.org_id, col(Message.contact_id) == contact_id)
        self._session.execute(
            update(PrivacyRequest)
            .where(
                col(PrivacyRequest.org_id) == self.org_id,
                col(PrivacyRequest.contact_id) == contact_id,
            )
            .values(contact_id=None, detail=None)
        )
        # Replies first: they point at the inbound messages they answer.
        replies = self._rowcount(
            delete(Message).where(*scope, col(Message.reply_to_id).is_not(None))
        )
        messages = replies + self._rowcount(delete(Message).where(*scope))
        handoffs = self._rowcount(
            delete(Handoff).where(
                col(Handoff.org_id) == self.org_id, col(Handoff.contact_id) == contact_id
            )
        )
        conversations = self._rowcount(
            delete(Conversation).where(
                col(Conversation.org_id) == self.org_id,
                col(Conversation.contact_id) == contact_id,
            )
        )
        # Append-only for the application; erasure is the one lawful reason to remove them.
        consents = self._rowcount(
            delete(ConsentRecord).where(
                col(ConsentRecord.org_id) == self.org_id,
                col(ConsentRecord.contact_id) == contact_id,
            )
        )
        contact = self._session.get(Contact, contact_id)
        if contact is not None and contact.org_id == self.org_id:
            # Their messages still waiting for a turn go too: the turn would bring them back.
            hashes = [h for h in (contact.address_hash, contact.alias_hash) if h]
            self._session.execute(
                delete(PendingTurn).where(
                    col(PendingTurn.org_id) == self.org_id,
                    col(PendingTurn.sender_hash).in_(hashes),
                )
            )
        contacts = self._rowcount(
            delete(Contact).where(col(Contact.org_id) == self.org_id, col(Contact.id) == contact_id)
        )
        return ErasedCounts(messages, conversations, handoffs, consents, contacts)

    def _rowcount(self, statement: Executable) -> int:
        result = cast(CursorResult[Any], self._session.execute(statement))
        return result.rowcount

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
            of_contacts = self._session.exec(
                select(col(Conversation.id)).where(
                    col(Conversation.org_id) == self.org_id,
                    col(Conversation.contact_id).in_(contacts),
                )
            ).all()
            conversations |= {i for i in of_contacts if i is not None}
        self._session.execute(
            update(Organization)
            .where(col(Organization.id) == self.org_id)
            .values(legal_hold=org_held)
        )
        held_by_model: tuple[tuple[type[SQLModel], str, set[int]], ...] = (
            (Contact, "id", contacts),
            (Conversation, "id", conversations),
            (Message, "conversation_id", conversations),
            (Handoff, "conversation_id", conversations),
            (ConsentRecord, "contact_id", contacts),
            (PrivacyRequest, "contact_id", contacts),
        )
        for model, column, held in held_by_model:
            table = table_of(model)
            ours = table.c.org_id == self.org_id
            self._session.execute(update(table).where(ours).values(legal_hold=org_held))
            if not org_held:
                self._session.execute(
                    update(table).where(ours, table.c[column].in_(held)).values(legal_hold=True)
                )

    def count(self, model: type[SQLModel]) -> int:
        """How many rows of ``model`` the organization has."""
        table = table_of(model)
        return self._session.exec(
            select(func.count()).select_from(table).where(table.c.org_id == self.org_id)
        ).one()

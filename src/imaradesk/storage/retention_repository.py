"""The writes of retention: per-row expiry, legal holds, and deleting a whole organization.

Expiry reads ids and flags only: no sealed value is opened to delete it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, Executable, delete, update
from sqlmodel import SQLModel, col, select

from imaradesk.storage.compliance_repository import ComplianceData
from imaradesk.storage.models import (
    AgentAccount,
    AIUsage,
    AnalyticsDaily,
    ApiToken,
    AuditEvent,
    ConsentRecord,
    Contact,
    Conversation,
    DeliveryKey,
    ErasureTombstone,
    Handoff,
    HandoffStatus,
    IngestionJob,
    KnowledgeDocument,
    KnowledgeEntry,
    KnowledgePhrasing,
    LegalHold,
    MediaFile,
    Message,
    MessageTemplate,
    Organization,
    OrgKey,
    PendingTurn,
    PrivacyNotice,
    PrivacyRequest,
    RoutingRule,
    Team,
)
from imaradesk.storage.tables import table_of

# Children before parents: messages point at agents, handoffs at teams and agents.
_ORGANIZATION_TABLES: tuple[type[SQLModel], ...] = (
    AuditEvent,
    ErasureTombstone,
    DeliveryKey,
    PendingTurn,
    MediaFile,
    Message,
    Handoff,
    PrivacyRequest,
    Conversation,
    ConsentRecord,
    Contact,
    KnowledgePhrasing,
    KnowledgeEntry,
    IngestionJob,
    KnowledgeDocument,
    ApiToken,
    AIUsage,
    LegalHold,
    PrivacyNotice,
    RoutingRule,
    MessageTemplate,
    AgentAccount,
    Team,
    OrgKey,
)


@dataclass
class ExpiryResult:
    """What one organization's expiry deleted and kept, by kind of row."""

    deleted: Counter[str] = field(default_factory=Counter)
    skipped_on_hold: Counter[str] = field(default_factory=Counter)
    # Their traces outside the database (state, export files) are the caller's to remove.
    erased_contact_ids: list[int] = field(default_factory=list)


class RetentionData(ComplianceData):
    """Retention's reads and writes for one organization."""

    # -- legal holds and flags -------------------------------------------------------------------

    def lift_hold(self, hold: LegalHold, *, lifted_by: str, now: datetime) -> None:
        self._check_owned(hold)
        hold.lifted_at = now
        hold.lifted_by = lifted_by
        self._session.add(hold)
        self._session.flush()

    def has_conversation(self, conversation_id: int) -> bool:
        return self._exists(
            Conversation,
            col(Conversation.org_id) == self.org_id,
            col(Conversation.id) == conversation_id,
        )

    def flag_minor(self, contact: Contact, *, erasure_review_due: datetime) -> None:
        self._check_owned(contact)
        contact.is_minor = True
        contact.erasure_review_due = erasure_review_due
        self._session.add(contact)

    # -- per-row expiry ----------------------------------------------------------------------------

    def expire(self, now: datetime) -> ExpiryResult:
        """Delete every row past its ``retain_until`` that no hold covers.

        Replies go with the messages they answer; an open handoff is work in progress, whatever
        its age; a conversation or contact goes only once nothing points at it any more.
        """
        result = ExpiryResult()
        self._expire_messages(now, result)
        self._expire_handoffs(now, result)
        self._expire_conversations(now, result)
        self._expire_contacts(now, result)
        self._expire_privacy_requests(now, result)
        result.deleted["audit_events"] += self._rowcount(
            delete(AuditEvent).where(
                col(AuditEvent.org_id) == self.org_id, col(AuditEvent.retain_until) <= now
            )
        )
        # Not counted: a key is bookkeeping (a keyed hash of a provider's id), not anyone's data.
        self._session.execute(
            delete(DeliveryKey).where(
                col(DeliveryKey.org_id) == self.org_id, col(DeliveryKey.expires_at) <= now
            )
        )
        return result

    def _expired(self, model: type[SQLModel], now: datetime, *extra: str) -> Sequence[Any]:
        """(id, legal_hold, *extra) of the organization's rows of ``model`` past retention."""
        c = table_of(model).c
        return self._session.execute(
            select(c.id, c.legal_hold, *(c[name] for name in extra)).where(
                c.org_id == self.org_id, c.retain_until <= now
            )
        ).all()

    def _delete_ids(self, model: type[SQLModel], ids: Sequence[int]) -> int:
        if not ids:
            return 0
        table = table_of(model)
        return self._rowcount(delete(table).where(table.c.id.in_(ids)))

    def _expire_messages(self, now: datetime, result: ExpiryResult) -> None:
        rows = self._expired(Message, now)
        result.skipped_on_hold["messages"] += sum(1 for r in rows if r.legal_hold)
        ids = [r.id for r in rows if not r.legal_hold]
        if not ids:
            return
        replies = self._session.execute(
            select(col(Message.id), col(Message.legal_hold)).where(
                col(Message.reply_to_id).in_(ids)
            )
        ).all()
        held_replies = [r.id for r in replies if r.legal_hold]
        if held_replies:
            # A held reply outlives the message it answered: it only loses the link.
            self._session.execute(
                update(Message).where(col(Message.id).in_(held_replies)).values(reply_to_id=None)
            )
        doomed = sorted({r.id for r in replies if not r.legal_hold} | set(ids))
        # Replies first: they point at the messages they answer.
        replies_deleted = self._rowcount(
            delete(Message).where(
                col(Message.id).in_(doomed), col(Message.reply_to_id).is_not(None)
            )
        )
        result.deleted["messages"] += replies_deleted + self._delete_ids(Message, doomed)

    def _expire_handoffs(self, now: datetime, result: ExpiryResult) -> None:
        rows = self._expired(Handoff, now, "status")
        result.skipped_on_hold["handoffs"] += sum(1 for r in rows if r.legal_hold)
        result.deleted["handoffs"] += self._delete_ids(
            Handoff, [r.id for r in rows if not r.legal_hold and r.status != HandoffStatus.OPEN]
        )

    def _expire_conversations(self, now: datetime, result: ExpiryResult) -> None:
        for row in self._expired(Conversation, now):
            if row.legal_hold:
                result.skipped_on_hold["conversations"] += 1
                continue
            if self._exists(Message, col(Message.conversation_id) == row.id) or self._exists(
                Handoff, col(Handoff.conversation_id) == row.id
            ):
                continue
            result.deleted["conversations"] += self._delete_ids(Conversation, [row.id])

    def _expire_contacts(self, now: datetime, result: ExpiryResult) -> None:
        for row in self._expired(Contact, now):
            if row.legal_hold:
                result.skipped_on_hold["contacts"] += 1
                continue
            if self._exists(Conversation, col(Conversation.contact_id) == row.id) or self._exists(
                Message, col(Message.contact_id) == row.id
            ):
                continue
            self._session.execute(
                update(PrivacyRequest)
                .where(col(PrivacyRequest.contact_id) == row.id)
                .values(contact_id=None)
            )
            result.deleted["consent_records"] += self._rowcount(
                delete(ConsentRecord).where(col(ConsentRecord.contact_id) == row.id)
            )
            result.deleted["contacts"] += self._delete_ids(Contact, [row.id])
            result.erased_contact_ids.append(row.id)

    def _expire_privacy_requests(self, now: datetime, result: ExpiryResult) -> None:
        rows = self._expired(PrivacyRequest, now)
        result.skipped_on_hold["privacy_requests"] += sum(1 for r in rows if r.legal_hold)
        ids = [r.id for r in rows if not r.legal_hold]
        if not ids:
            return
        # The audit trail and tombstones outlive the requests they record, unlinked.
        self._session.execute(
            update(AuditEvent)
            .where(col(AuditEvent.privacy_request_id).in_(ids))
            .values(privacy_request_id=None)
        )
        self._session.execute(
            update(ErasureTombstone)
            .where(col(ErasureTombstone.privacy_request_id).in_(ids))
            .values(privacy_request_id=None)
        )
        result.deleted["privacy_requests"] += self._delete_ids(PrivacyRequest, ids)

    # -- the whole organization ------------------------------------------------------------------

    def delete_organization(self, *, analytics_ref: str, keep_daily_counts: bool) -> None:
        """Delete every row of the organization; its anonymous daily counts stay if asked.

        The organization's row is not loaded: its sealed columns may no longer open.
        """
        if not keep_daily_counts:
            self._session.execute(
                delete(AnalyticsDaily).where(col(AnalyticsDaily.org_ref) == analytics_ref)
            )
        self._session.execute(
            update(Message).where(col(Message.org_id) == self.org_id).values(reply_to_id=None)
        )
        for model in _ORGANIZATION_TABLES:
            table = table_of(model)
            self._session.execute(delete(table).where(table.c.org_id == self.org_id))
        self._session.execute(delete(Organization).where(col(Organization.id) == self.org_id))

    # -- helpers -----------------------------------------------------------------------------------

    def _exists(self, model: type[SQLModel], *where: ColumnElement[bool]) -> bool:
        query = select(table_of(model).c.id).where(*where).limit(1)
        return self._session.execute(query).first() is not None

    def _rowcount(self, statement: Executable) -> int:
        result = cast(CursorResult[Any], self._session.execute(statement))
        return result.rowcount

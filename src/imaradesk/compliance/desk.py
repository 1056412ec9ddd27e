"""The privacy desk: carries out data-protection requests and keeps their record and audit trail.

Every request becomes a ``PrivacyRequest`` with its right, status and due date (from the
organization's per-right deadlines), and every step an ``AuditEvent``. Erasure reaches every
store the contact's data reached: the database rows, the conversation state (Redis or memory)
and the export files; the knowledge index holds only the organization's own FAQ, never
customers' text. What stays is a tombstone: when, and keyed hashes of the identity and of the
provider message ids, so that a replayed webhook cannot bring the contact back.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from imaradesk.compliance.subject_export import ExportSummary, SubjectExports, collect
from imaradesk.policies.privacy import NEARLY_DUE, Correction, PrivacyRight, due_at
from imaradesk.policies.retention import retain_until
from imaradesk.runtime.clock import Clock
from imaradesk.runtime.metrics import ERASURES
from imaradesk.storage.compliance_repository import ComplianceData, ErasedCounts
from imaradesk.storage.conversation_state import ConversationStateStore
from imaradesk.storage.db import Database
from imaradesk.storage.models import (
    Contact,
    Direction,
    ErasureTombstone,
    Organization,
    PrivacyRequest,
    PrivacyRequestStatus,
)

log = logging.getLogger(__name__)


class PrivacyError(Exception):
    pass


class ErasureBlocked(PrivacyError):
    """A legal hold covers the contact's data."""


@dataclass(frozen=True)
class ExportLink:
    url: str
    summary: ExportSummary
    expires_in_minutes: int


@dataclass(frozen=True)
class ErasureReport:
    request_id: int | None
    counts: ErasedCounts
    exports_removed: int
    seconds: float


class PrivacyDesk:
    def __init__(
        self,
        *,
        database: Database,
        state: ConversationStateStore,
        exports: SubjectExports,
        clock: Clock,
        public_base_url: str,
    ) -> None:
        self._db = database
        self._state = state
        self._exports = exports
        self._clock = clock
        self._base_url = public_base_url.rstrip("/")

    @property
    def exports(self) -> SubjectExports:
        """The store of the subject exports this desk writes (the retention sweep clears it)."""
        return self._exports

    # -- requests ----------------------------------------------------------------------------

    def open_request(
        self,
        org: Organization,
        *,
        contact_id: int | None,
        right: PrivacyRight,
        channel: str,
        status: PrivacyRequestStatus,
        actor: str = "customer",
        outcome: str | None = None,
        detail: str | None = None,
    ) -> PrivacyRequest:
        now = self._clock.now()
        assert org.id is not None
        with self._db.write() as session:
            data = ComplianceData(session, org.id)
            done = status in (PrivacyRequestStatus.COMPLETED, PrivacyRequestStatus.REFUSED)
            request = data.open_privacy_request(
                contact_id=contact_id,
                right=right.value,
                status=status.value,
                channel=channel,
                received_at=now,
                due_at=due_at(right, now, org.privacy_due_days),
                completed_at=now if done else None,
                outcome=outcome,
                detail=detail,
                retain_until=retain_until(now, org.privacy_record_retention_days),
            )
            assert request.id is not None
            self._audit(data, org, actor=actor, action=f"{right.value}_requested", request=request)
            if done:
                self._audit(
                    data,
                    org,
                    actor="bot",
                    action=f"{right.value}_{status.value}",
                    request=request,
                    note=outcome,
                )
        return request

    def set_status(
        self,
        org: Organization,
        request_id: int,
        status: PrivacyRequestStatus,
        *,
        actor: str,
        outcome: str | None = None,
    ) -> PrivacyRequest:
        assert org.id is not None
        now = self._clock.now()
        with self._db.write() as session:
            data = ComplianceData(session, org.id)
            request = data.privacy_request(request_id)
            if request is None:
                raise PrivacyError(f"no privacy request #{request_id}")
            done = status in (
                PrivacyRequestStatus.COMPLETED,
                PrivacyRequestStatus.REFUSED,
                PrivacyRequestStatus.CANCELLED,
            )
            data.set_request_status(
                request,
                status=status.value,
                outcome=outcome or request.outcome,
                completed_at=now if done else None,
            )
            self._audit(
                data,
                org,
                actor=actor,
                action=f"{request.right}_{status.value}",
                request=request,
                note=outcome,
            )
            return request

    # -- access --------------------------------------------------------------------------------

    def export_link(self, org: Organization, contact_id: int) -> ExportLink:
        """Write the contact's export and return a short-lived signed link to it."""
        assert org.id is not None
        with self._db.read() as session:
            export = collect(ComplianceData(session, org.id), contact_id)
        token = self._exports.write(org.id, contact_id, export)
        return ExportLink(
            url=f"{self._base_url}/privacy/exports/{token}",
            summary=ExportSummary.of(export),
            expires_in_minutes=self._exports.ttl_seconds // 60,
        )

    # -- rectification, restriction ---------------------------------------------------------

    def rectify(
        self, org: Organization, contact_id: int, correction: Correction, *, channel: str
    ) -> None:
        with self._contact_to_change(org, contact_id) as (data, contact):
            data.correct_contact(contact, field=correction.field, value=correction.value)
        self.open_request(
            org,
            contact_id=contact_id,
            right=PrivacyRight.RECTIFICATION,
            channel=channel,
            status=PrivacyRequestStatus.COMPLETED,
            outcome=f"{correction.field} corrected from the chat",
        )

    def set_restricted(
        self, org: Organization, contact_id: int, restricted: bool, *, channel: str
    ) -> None:
        with self._contact_to_change(org, contact_id) as (data, contact):
            data.set_restricted(contact, restricted=restricted)
        self.open_request(
            org,
            contact_id=contact_id,
            right=PrivacyRight.RESTRICTION if restricted else PrivacyRight.LIFT_RESTRICTION,
            channel=channel,
            status=PrivacyRequestStatus.COMPLETED,
            outcome="AI, analytics and training stopped"
            if restricted
            else "processing allowed again",
        )

    @contextmanager
    def _contact_to_change(
        self, org: Organization, contact_id: int
    ) -> Iterator[tuple[ComplianceData, Contact]]:
        """The contact, in a write transaction that commits the change made to it."""
        assert org.id is not None
        with self._db.write() as session:
            data = ComplianceData(session, org.id)
            contact = data.contact(contact_id)
            if contact is None:
                raise PrivacyError(f"no contact #{contact_id}")
            yield data, contact

    # -- erasure -------------------------------------------------------------------------------

    def erasure_blocked(self, org: Organization, contact: Contact) -> bool:
        """Whether a legal hold covers anything of the contact."""
        if org.legal_hold or contact.legal_hold:
            return True
        assert org.id is not None and contact.id is not None
        with self._db.read() as session:
            return any(
                c.legal_hold for c in ComplianceData(session, org.id).conversations_of(contact.id)
            )

    def erase(
        self, org: Organization, contact_id: int, *, request_id: int | None, actor: str = "customer"
    ) -> ErasureReport:
        """Erase one contact everywhere, leaving a tombstone.

        Raises:
            ErasureBlocked: a legal hold covers the contact.
        """
        assert org.id is not None
        started = self._clock.now()
        keystore = self._db.keystore
        with self._db.write() as session:
            data = ComplianceData(session, org.id)
            contact = data.contact(contact_id)
            if contact is None:
                raise PrivacyError(f"no contact #{contact_id}")
            if (
                org.legal_hold
                or contact.legal_hold
                or any(c.legal_hold for c in data.conversations_of(contact_id))
            ):
                raise ErasureBlocked("a legal hold covers this contact")
            hash_key = keystore.cipher_for(org.id)
            message_hashes = sorted(
                {
                    hash_key.identity_hash(f"msg|{m.channel}|{m.provider_message_id}")
                    for m in data.messages_of_contact(contact_id)
                    if m.direction == Direction.INBOUND and m.provider_message_id
                }
            )
            counts = data.erase_contact_rows(contact_id)
            data.add_tombstone(
                identity_hash=contact.address_hash,
                message_id_hashes=message_hashes,
                now=started,
                request_id=request_id,
            )
            outcome = (
                f"erased {counts.messages} messages, {counts.conversations} conversations, "
                f"{counts.handoffs} handoffs, {counts.consent_records} consent records"
            )
            if request_id is not None:
                request = data.privacy_request(request_id)
                if request is not None:
                    data.set_request_status(
                        request,
                        status=PrivacyRequestStatus.COMPLETED.value,
                        completed_at=started,
                        outcome=outcome,
                    )
            self._audit(
                data,
                org,
                actor=actor,
                action="erasure_completed",
                subject=f"contact:{contact_id}",
                request_id=request_id,
                note=outcome,
            )
        self._state.erase_subject(org.id, contact_id)
        removed = self._exports.erase_subject(org.id, contact_id)
        seconds = (self._clock.now() - started).total_seconds()
        log.info("contact erased", extra={"org_id": org.id, "messages": counts.messages})
        ERASURES.inc()
        return ErasureReport(request_id, counts, removed, seconds)

    def is_replay_of_erased(
        self,
        org: Organization,
        *,
        tombstones: Sequence[ErasureTombstone],
        channel: str,
        provider_message_id: str,
    ) -> bool:
        """Whether this delivery is an old message of a contact erased since."""
        if not tombstones:
            return False
        assert org.id is not None
        cipher = self._db.keystore.cipher_for(org.id)
        message_hash = cipher.identity_hash(f"msg|{channel}|{provider_message_id}")
        return any(message_hash in t.message_id_hashes for t in tombstones)

    # -- reporting ---------------------------------------------------------------------------

    def open_requests(
        self, org: Organization, *, overdue_only: bool = False
    ) -> list[tuple[PrivacyRequest, str]]:
        """Open requests with a flag: 'overdue', 'due soon' or ''."""
        assert org.id is not None
        now = self._clock.now()
        with self._db.read() as session:
            requests = ComplianceData(session, org.id).privacy_requests(open_only=True)
        flagged = [(r, flag_for(r, now)) for r in requests]
        if overdue_only:
            flagged = [(r, f) for r, f in flagged if f == "overdue"]
        return flagged

    # -- helpers -------------------------------------------------------------------------------

    def _audit(
        self,
        data: ComplianceData,
        org: Organization,
        *,
        actor: str,
        action: str,
        request: PrivacyRequest | None = None,
        request_id: int | None = None,
        subject: str | None = None,
        note: str | None = None,
    ) -> None:
        now = self._clock.now()
        rid = request.id if request is not None else request_id
        data.audit(
            actor=actor,
            action=action,
            subject=subject or f"privacy_request:{rid}",
            now=now,
            retain_until=retain_until(now, org.audit_retention_days),
            note=note,
            request_id=rid,
        )


def flag_for(request: PrivacyRequest, now: datetime) -> str:
    if request.due_at < now:
        return "overdue"
    if request.due_at - now <= NEARLY_DUE:
        return "due soon"
    return ""

"""Retention, legal holds and the end of an organization.

The sweep deletes what has passed its ``retain_until`` wherever it lives, except what a legal
hold covers, and reports counts. Holds can cover an organization, a contact or a conversation;
placing and lifting them is audited. Closing an account schedules its complete deletion 30 days
later; only daily counts without identities survive it.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from imaradesk.compliance.subject_export import SubjectExports
from imaradesk.knowledge_index.ingestion import IngestionService
from imaradesk.knowledge_index.knowledge_base import KnowledgeBase
from imaradesk.policies.retention import retain_until
from imaradesk.runtime.clock import Clock
from imaradesk.storage.conversation_state import ConversationStateStore
from imaradesk.storage.db import Database
from imaradesk.storage.models import Contact, LegalHold, Organization
from imaradesk.storage.organization_repository import Organizations
from imaradesk.storage.retention_repository import RetentionData

log = logging.getLogger(__name__)
ACCOUNT_DELETION_DELAY = timedelta(days=30)
HOLD_SCOPES = ("organization", "contact", "conversation")
MINOR_ERASURE_REVIEW = timedelta(days=30)


class RetentionError(Exception):
    pass


@dataclass
class SweepReport:
    deleted: Counter[str] = field(default_factory=Counter)
    skipped_on_hold: Counter[str] = field(default_factory=Counter)
    organizations_deleted: int = 0
    failed: dict[int, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "deleted": dict(self.deleted),
            "skipped_on_hold": dict(self.skipped_on_hold),
            "organizations_deleted": self.organizations_deleted,
            "failed_organizations": self.failed,
        }


class Stewardship:
    """Legal holds, account closure and the retention sweep."""

    def __init__(
        self,
        *,
        database: Database,
        knowledge: KnowledgeBase,
        state: ConversationStateStore,
        exports: SubjectExports,
        uploads: IngestionService,
        clock: Clock,
    ) -> None:
        self._uploads = uploads
        self._db = database
        self._knowledge = knowledge
        self._state = state
        self._exports = exports
        self._clock = clock

    # -- legal holds ---------------------------------------------------------------------------

    def place_hold(
        self, org: Organization, *, scope: str, target_id: int | None, reason: str, actor: str
    ) -> LegalHold:
        if scope not in HOLD_SCOPES:
            raise RetentionError(f"a hold covers one of: {', '.join(HOLD_SCOPES)}")
        if not reason.strip():
            raise RetentionError("a legal hold needs a reason")
        assert org.id is not None
        target = org.id if scope == "organization" else target_id
        if target is None:
            raise RetentionError(f"a {scope} hold needs the {scope}'s id")
        now = self._clock.now()
        with self._db.write() as session:
            data = RetentionData(session, org.id)
            if scope == "contact" and data.contact(target) is None:
                raise RetentionError(f"no contact #{target} in {org.slug}")
            if scope == "conversation" and not data.has_conversation(target):
                raise RetentionError(f"no conversation #{target} in {org.slug}")
            hold = data.add_hold(
                scope=scope, target_id=target, reason=reason, placed_by=actor, placed_at=now
            )
            data.apply_hold_flags()
            data.audit(
                actor=actor,
                action="legal_hold_placed",
                subject=f"{scope}:{target}",
                now=now,
                retain_until=retain_until(now, org.audit_retention_days),
                note=f"hold #{hold.id}",
            )
            return hold

    def lift_hold(self, org: Organization, hold_id: int, *, actor: str) -> LegalHold:
        assert org.id is not None
        now = self._clock.now()
        with self._db.write() as session:
            data = RetentionData(session, org.id)
            hold = data.hold(hold_id)
            if hold is None or hold.lifted_at is not None:
                raise RetentionError(f"no active hold #{hold_id} in {org.slug}")
            data.lift_hold(hold, lifted_by=actor, now=now)
            data.apply_hold_flags()
            data.audit(
                actor=actor,
                action="legal_hold_lifted",
                subject=f"{hold.scope}:{hold.target_id}",
                now=now,
                retain_until=retain_until(now, org.audit_retention_days),
                note=f"hold #{hold.id}",
            )
            return hold

    def holds(self, org: Organization) -> list[LegalHold]:
        assert org.id is not None
        with self._db.read() as session:
            return list(RetentionData(session, org.id).active_holds())

    # -- minors --------------------------------------------------------------------------------

    def flag_minor(self, org: Organization, contact_id: int, *, actor: str) -> datetime:
        """Mark a contact as under 18 and schedule the review of their erasure."""
        assert org.id is not None
        now = self._clock.now()
        due = now + MINOR_ERASURE_REVIEW
        with self._db.write() as session:
            data = RetentionData(session, org.id)
            contact = data.contact(contact_id)
            if contact is None:
                raise RetentionError(f"no contact #{contact_id} in {org.slug}")
            data.flag_minor(contact, erasure_review_due=due)
            data.audit(
                actor=actor,
                action="flagged_minor",
                subject=f"contact:{contact_id}",
                now=now,
                retain_until=retain_until(now, org.audit_retention_days),
                note=f"erasure review due {due:%Y-%m-%d}",
            )
        return due

    def minors_due_for_review(self, org: Organization) -> list[Contact]:
        assert org.id is not None
        now = self._clock.now()
        with self._db.read() as session:
            contacts = RetentionData(session, org.id).contacts()
        return [
            c
            for c in contacts
            if c.is_minor and c.erasure_review_due is not None and c.erasure_review_due <= now
        ]

    # -- account closure -------------------------------------------------------------------------

    def close_account(self, org: Organization, *, actor: str) -> datetime:
        assert org.id is not None
        now = self._clock.now()
        due = now + ACCOUNT_DELETION_DELAY
        self._set_closure(
            org, closed_at=now, deletion_due_at=due, action="account_closed", actor=actor
        )
        return due

    def reopen_account(self, org: Organization, *, actor: str) -> None:
        if org.closed_at is None:
            raise RetentionError(f"{org.slug} is not closed")
        self._set_closure(
            org, closed_at=None, deletion_due_at=None, action="account_reopened", actor=actor
        )

    def _set_closure(
        self,
        org: Organization,
        *,
        closed_at: datetime | None,
        deletion_due_at: datetime | None,
        action: str,
        actor: str,
    ) -> None:
        assert org.id is not None
        now = self._clock.now()
        with self._db.write() as session:
            Organizations(session).set_closure(
                org.id, closed_at=closed_at, deletion_due_at=deletion_due_at
            )
            RetentionData(session, org.id).audit(
                actor=actor,
                action=action,
                subject=f"organization:{org.id}",
                now=now,
                retain_until=retain_until(now, org.audit_retention_days),
            )

    # -- the sweep -----------------------------------------------------------------------------

    def sweep(self) -> SweepReport:
        """Delete everything past its retention, everywhere, except what is on hold.

        One organization's failure is reported and does not stop the others.
        """
        now = self._clock.now()
        report = SweepReport()
        with self._db.read() as session:
            orgs = list(Organizations(session).all())
        for org in orgs:
            assert org.id is not None
            try:
                self._sweep_one(org, now, report)
            except Exception as e:  # reported per organization; the sweep goes on
                log.exception(
                    "retention sweep failed for an organization", extra={"org_id": org.id}
                )
                report.failed[org.id] = type(e).__name__
        report.deleted["export_files"] += self._exports.sweep(now)
        log.info("retention sweep", extra=report.as_dict())
        return report

    def _sweep_one(self, org: Organization, now: datetime, report: SweepReport) -> None:
        if org.legal_hold:
            # An organization-wide hold keeps everything, records of requests and audit too.
            report.skipped_on_hold["organization"] += 1
            return
        due = org.deletion_due_at is not None and org.deletion_due_at <= now
        if due or org.data_destroyed_at is not None:
            # A closed account's time is up, or its key is gone and its rows are noise.
            self._delete_organization(org)
            report.organizations_deleted += 1
            return
        self._sweep_org(org, now, report)

    def _sweep_org(self, org: Organization, now: datetime, report: SweepReport) -> None:
        """Per-row expiry, then the erased contacts' traces outside the database."""
        assert org.id is not None
        with self._db.write() as session:
            result = RetentionData(session, org.id).expire(now)
        report.deleted.update(result.deleted)
        report.skipped_on_hold.update(result.skipped_on_hold)
        for contact_id in result.erased_contact_ids:
            self._state.erase_subject(org.id, contact_id)
            self._exports.erase_subject(org.id, contact_id)

    def _delete_organization(self, org: Organization) -> None:
        """Complete deletion: the anonymous daily counts stay (unless excluded), nothing else."""
        assert org.id is not None
        with self._db.write() as session:
            RetentionData(session, org.id).delete_organization(
                analytics_ref=org.analytics_ref, keep_daily_counts=not org.exclude_from_training
            )
        self._db.keystore.forget(org.id)
        self._knowledge.erase_organization(org.id)
        self._state.erase_organization(org.id)
        self._exports.erase_organization(org.id)
        self._uploads.erase_organization(org.id)
        log.info("organization deleted", extra={"org_id": org.id})

"""Creating and finding organizations."""

from __future__ import annotations

from typing import Protocol, Unpack

from imaradesk.policies.consent import DEFAULT_NOTICE_TEXT
from imaradesk.policies.retention import retain_until
from imaradesk.runtime.clock import Clock
from imaradesk.storage.compliance_repository import ComplianceData
from imaradesk.storage.db import Database
from imaradesk.storage.models import Organization
from imaradesk.storage.organization_repository import (
    Organizations,
    OrganizationSettings,
    check_settings,
)


class OrganizationExists(ValueError):
    pass


class HoldsOrganizationData(Protocol):
    """Anything that keeps an organization's data outside the database (the knowledge index,
    conversation state, export files, uploads): shredding removes it there too."""

    def erase_organization(self, org_id: int) -> None: ...


class OrganizationService:
    def __init__(self, database: Database, clock: Clock) -> None:
        self._db = database
        self._clock = clock

    def by_slug(self, slug: str) -> Organization | None:
        with self._db.read() as session:
            return Organizations(session).by_slug(slug)

    def get(self, org_id: int) -> Organization | None:
        with self._db.read() as session:
            return Organizations(session).get(org_id)

    def all(self) -> list[Organization]:
        with self._db.read() as session:
            return list(Organizations(session).all())

    def create(
        self,
        slug: str,
        *,
        name: str,
        twilio_auth_token: str | None = None,
        privacy_policy_url: str | None = None,
        privacy_notice_text: str = DEFAULT_NOTICE_TEXT,
    ) -> Organization:
        with self._db.write() as session:
            orgs = Organizations(session)
            if orgs.by_slug(slug) is not None:
                raise OrganizationExists(f"organization {slug!r} already exists")
            org = orgs.create(
                slug=slug,
                name=name,
                now=self._clock.now(),
                privacy_policy_url=privacy_policy_url,
                privacy_notice_text=privacy_notice_text,
            )
            assert org.id is not None
            orgs.add_notice(
                org_id=org.id, version=1, text=privacy_notice_text, now=self._clock.now()
            )
        # The key is created in its own committed transaction, before anything is sealed.
        self._db.keystore.create_key(org.id, now=self._clock.now())
        if twilio_auth_token is not None:
            self.update(org.id, twilio_auth_token=twilio_auth_token)
        found = self.by_slug(slug)
        assert found is not None
        return found

    def update(self, org_id: int, **changes: Unpack[OrganizationSettings]) -> Organization:
        """Change settings by name; AttributeError for a name that is not a setting.

        A change of ``exclude_from_training`` or ``tuning_opt_in`` bumps ``kb_revision`` in the
        same transaction, so every process refits the answer model under the new choice.
        """
        # Checked at run time too: the CLI passes the names its options map to.
        settings = check_settings(changes)
        with self._db.write() as session:
            return Organizations(session).change_settings(org_id, settings)

    def set_tuning_opt_in(self, org_id: int, opt_in: bool, *, actor: str) -> Organization:
        """Turn the per-organization tuning on or off by the admin's choice, audited: it lifts
        (or restores) the organization's opt-out from training for its own answer model."""
        now = self._clock.now()
        with self._db.write() as session:
            orgs = Organizations(session)
            org = orgs.get(org_id)
            if org is None:
                raise LookupError(f"organization {org_id} does not exist")
            if org.tuning_opt_in == opt_in:
                return org
            org = orgs.change_settings(org_id, {"tuning_opt_in": opt_in})
            ComplianceData(session, org_id).audit(
                actor=actor,
                action="tuning_opted_in" if opt_in else "tuning_opted_out",
                subject=f"organization:{org_id}",
                now=now,
                retain_until=retain_until(now, org.audit_retention_days),
            )
            return org

    def destroy_data(
        self,
        org_id: int,
        *,
        knowledge: HoldsOrganizationData,
        state: HoldsOrganizationData,
        exports: HoldsOrganizationData,
        uploads: HoldsOrganizationData,
    ) -> None:
        """Crypto-shred: destroy the data key, then everything derived outside the database."""
        now = self._clock.now()
        with self._db.write() as session:
            Organizations(session).mark_data_destroyed(org_id, now=now)
        self._db.keystore.destroy(org_id, now=now)
        knowledge.erase_organization(org_id)
        state.erase_organization(org_id)
        exports.erase_organization(org_id)  # sealed under the destroyed key, but files all the same
        uploads.erase_organization(org_id)

    def publish_notice(self, org_id: int, text: str, *, material: bool = True) -> int:
        """Publish a new privacy notice; a material change is shown to returning customers."""
        if "{org_name}" not in text and len(text.strip()) < 20:
            raise ValueError("a privacy notice needs some words")
        now = self._clock.now()
        with self._db.write() as session:
            return Organizations(session).publish_notice(
                org_id, text=text, material=material, now=now
            )

    def ensure_data_keys(self) -> int:
        """Give every organization a data key (organizations created before encryption)."""
        with self._db.read() as session:
            missing = Organizations(session).without_data_key()
        for org_id in missing:
            self._db.keystore.create_key(org_id, now=self._clock.now())
        return len(missing)

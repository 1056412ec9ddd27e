"""Organizations: finding and creating them, their settings, privacy notices and closure.

Not scoped to one organization, since this is how a scope is found.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TypedDict, cast, get_type_hints

from sqlalchemy import update
from sqlmodel import Session, col, select

from imaradesk.storage.models import Organization, OrgKey, PrivacyNotice

SLUG_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")


class InvalidSlug(ValueError):
    pass


class OrganizationSettings(TypedDict, total=False):
    """What a person may change about an organization (``imaradesk org set``, sign-up, tests).

    Derived columns are not here: the legal-hold flag follows the holds, the notice version
    follows published notices, closure and shredding have methods of their own.
    """

    name: str
    twilio_auth_token: str | None
    twilio_account_sid: str | None
    whatsapp_sender: str | None
    privacy_policy_url: str | None
    retention_days: int
    handoff_retention_days: int
    privacy_record_retention_days: int
    audit_retention_days: int
    privacy_due_days: dict[str, int]
    external_ai_allowed: bool
    exclude_from_training: bool
    tuning_opt_in: bool
    contact_email: str | None
    team_size: str | None
    ai_provider: str | None
    ai_model: str | None
    ai_api_key: str | None
    ai_base_url: str | None
    generative_answers: bool
    rasa_url: str | None
    webchat_identity_secret: str | None
    meta_phone_number_id: str | None
    meta_waba_id: str | None
    meta_app_secret: str | None
    meta_access_token: str | None
    meta_verify_token: str | None
    fetch_media: bool
    quota_messages_per_minute: int | None
    quota_visitors_per_hour: int | None
    quota_storage_mb: int | None


SETTING_NAMES = frozenset(get_type_hints(OrganizationSettings))
# Settings that decide how the organization's answer model is fitted (tuning.tuning_allowed):
# changing one makes its knowledge index stale, like an edit of its knowledge.
INDEX_SETTINGS = frozenset({"exclude_from_training", "tuning_opt_in"})


def check_settings(changes: Mapping[str, object]) -> OrganizationSettings:
    """The changes as settings, or AttributeError naming the first that is not one."""
    for name in changes:
        if name not in SETTING_NAMES:
            raise AttributeError(f"organizations have no setting {name!r}")
    return cast(OrganizationSettings, dict(changes))


class Organizations:
    """Organization lookup, creation and the writes that concern a whole organization."""

    def __init__(self, session: Session) -> None:
        self._session = session

    # -- reads ---------------------------------------------------------------------------------

    def by_slug(self, slug: str) -> Organization | None:
        return self._session.exec(select(Organization).where(Organization.slug == slug)).first()

    def get(self, org_id: int) -> Organization | None:
        return self._session.get(Organization, org_id)

    def all(self) -> Sequence[Organization]:
        return self._session.exec(select(Organization).order_by(col(Organization.id))).all()

    def without_data_key(self) -> Sequence[int]:
        have_key = select(OrgKey.org_id)
        return self._session.exec(
            select(col(Organization.id)).where(col(Organization.id).not_in(have_key))
        ).all()  # type: ignore[return-value]  # ids of stored rows are never None

    def notices(self, org_id: int) -> Sequence[PrivacyNotice]:
        return self._session.exec(
            select(PrivacyNotice)
            .where(PrivacyNotice.org_id == org_id)
            .order_by(col(PrivacyNotice.version))
        ).all()

    # -- writes --------------------------------------------------------------------------------

    def create(
        self,
        *,
        slug: str,
        name: str,
        now: datetime,
        privacy_notice_text: str,
        privacy_policy_url: str | None = None,
    ) -> Organization:
        """Create an organization; its secrets are set once it has a data key."""
        if not SLUG_PATTERN.match(slug):
            raise InvalidSlug(
                f"invalid organization slug {slug!r}: use lowercase letters, digits and hyphens"
            )
        org = Organization(
            slug=slug,
            name=name,
            privacy_notice_text=privacy_notice_text,
            privacy_policy_url=privacy_policy_url,
            created_at=now,
        )
        self._session.add(org)
        self._session.flush()
        return org

    def change_settings(self, org_id: int, settings: OrganizationSettings) -> Organization:
        """Apply settings; AttributeError for a name that is not a setting, before any change."""
        org = self._existing(org_id)
        check_settings(settings)
        stale_index = any(
            getattr(org, name) != value
            for name, value in settings.items()
            if name in INDEX_SETTINGS
        )
        for name, value in settings.items():
            setattr(org, name, value)
        self._session.add(org)
        if stale_index:
            self._bump_kb_revision(org)
        return org

    def publish_notice(self, org_id: int, *, text: str, material: bool, now: datetime) -> int:
        """Make ``text`` the privacy notice; a material change gets a new, recorded version."""
        org = self._existing(org_id)
        version = org.privacy_notice_version + 1 if material else org.privacy_notice_version
        if material:
            self.add_notice(org_id=org_id, version=version, text=text, now=now)
        org.privacy_notice_version = version
        org.privacy_notice_text = text
        self._session.add(org)
        return version

    def add_notice(self, *, org_id: int, version: int, text: str, now: datetime) -> PrivacyNotice:
        """Record a published (material) notice version."""
        notice = PrivacyNotice(
            org_id=org_id, version=version, text=text, material=True, published_at=now
        )
        self._session.add(notice)
        return notice

    def set_closure(
        self, org_id: int, *, closed_at: datetime | None, deletion_due_at: datetime | None
    ) -> Organization:
        """Close an account with its deletion date, or reopen it with ``None`` for both."""
        org = self._existing(org_id)
        org.closed_at = closed_at
        org.deletion_due_at = deletion_due_at
        self._session.add(org)
        return org

    def mark_data_destroyed(self, org_id: int, *, now: datetime) -> Organization:
        org = self._existing(org_id)
        org.data_destroyed_at = now
        self._session.add(org)
        return org

    def _bump_kb_revision(self, org: Organization) -> None:
        """Tell every process to rebuild the organization's index, as knowledge edits do."""
        self._session.flush()
        # In SQL, not from the loaded value: an import committing meanwhile bumps it too, and
        # two bumps must not collapse into one revision that one of them did not see. The row
        # is then reloaded rather than synchronised in Python, which skips its unsealing.
        self._session.execute(
            update(Organization)
            .where(col(Organization.id) == org.id)
            .values(kb_revision=Organization.kb_revision + 1)
            .execution_options(synchronize_session=False)
        )
        self._session.refresh(org)

    def _existing(self, org_id: int) -> Organization:
        org = self._session.get(Organization, org_id)
        if org is None:
            raise LookupError(f"organization {org_id} does not exist")
        return org

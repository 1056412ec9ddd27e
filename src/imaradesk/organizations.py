"""Creating and finding organizations."""

from __future__ import annotations

from imaradesk.clock import Clock
from imaradesk.policies.consent import DEFAULT_NOTICE_TEXT
from imaradesk.storage.db import Database
from imaradesk.storage.models import Organization
from imaradesk.storage.repositories import Organizations


class OrganizationExists(ValueError):
    pass


class OrganizationService:
    def __init__(self, database: Database, clock: Clock) -> None:
        self._db = database
        self._clock = clock

    def by_slug(self, slug: str) -> Organization | None:
        with self._db.read() as session:
            return Organizations(session).by_slug(slug)

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
            return orgs.create(
                slug=slug,
                name=name,
                now=self._clock.now(),
                twilio_auth_token=twilio_auth_token,
                privacy_policy_url=privacy_policy_url,
                privacy_notice_text=privacy_notice_text,
            )

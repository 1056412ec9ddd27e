"""Each organization's quotas: messages per minute, new web-chat visitors per hour, storage.

The organization's own figure where an operator set one (``imaradesk org set SLUG --quota-...``),
else the service's default from the settings. Counts live beside the rate limits (Redis when
configured, this process's memory otherwise) and never stop the service: if Redis is away,
everything is admitted.

A message over the quota is not refused when it came signed from a provider (Twilio and
Meta do not honour 429, and it is the customer's): the caller keeps it and answers it after
``retry_after``. A web-chat client is told to retry instead.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from dataclasses import dataclass
from datetime import timedelta

from limits import RateLimitItem, RateLimitItemPerHour, RateLimitItemPerSecond
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from imaradesk.storage.db import Database
from imaradesk.storage.models import Organization
from imaradesk.storage.storage_use import stored_bytes

log = logging.getLogger(__name__)

MB = 1024 * 1024
# Storage is summed at most this often per organization: it moves slowly, and a sum over
# every message is not something to run per upload burst.
_STORAGE_CACHE_SECONDS = 60.0


@dataclass(frozen=True)
class QuotaDefaults:
    messages_per_minute: int
    visitors_per_hour: int
    storage_mb: int
    # The message quota's window: a minute; shorter only where a test cannot wait one.
    message_window_seconds: int = 60


@dataclass(frozen=True)
class Admission:
    allowed: bool
    # Refused: how long until the quota has room again.
    retry_after: timedelta = timedelta(0)


class StorageQuotaExceeded(Exception):
    """The organization's stored data has reached its storage quota."""


class OrganizationQuotas:
    def __init__(
        self,
        *,
        database: Database,
        defaults: QuotaDefaults,
        storage_uri: str,
        key_prefix: str,
    ) -> None:
        self._db = database
        self._defaults = defaults
        self._limiter = MovingWindowRateLimiter(storage_from_string(storage_uri))
        self._prefix = key_prefix
        self._guard = threading.Lock()
        self._storage_sums: dict[int, tuple[float, int]] = {}

    # -- rates -------------------------------------------------------------------------------

    def message_limit(self, org: Organization) -> RateLimitItem:
        per_window = org.quota_messages_per_minute or self._defaults.messages_per_minute
        window = self._defaults.message_window_seconds
        return RateLimitItemPerSecond(per_window, window)

    def visitor_limit(self, org: Organization) -> RateLimitItem:
        return RateLimitItemPerHour(org.quota_visitors_per_hour or self._defaults.visitors_per_hour)

    def admit_message(self, org: Organization) -> Admission:
        """Count one customer message against the organization's per-minute quota."""
        return self._admit(org, "messages", self.message_limit(org))

    def admit_visitor(self, org: Organization) -> Admission:
        """Count one new web-chat visitor against the organization's hourly quota."""
        return self._admit(org, "visitors", self.visitor_limit(org))

    def _admit(self, org: Organization, what: str, limit: RateLimitItem) -> Admission:
        key = self._key(org)
        try:
            if self._limiter.hit(limit, self._prefix, what, key):
                return Admission(True)
            reset = self._limiter.get_window_stats(limit, self._prefix, what, key).reset_time
        except Exception:  # the quota store (Redis) is away: never stop answering for it
            log.warning("quota store unavailable; admitting", exc_info=True)
            return Admission(True)
        return Admission(False, timedelta(seconds=max(reset - time.time(), 0.0)))

    @staticmethod
    def _key(org: Organization) -> str:
        # An id, not a slug: a slug can be given up and taken by another organization.
        return hashlib.sha256(f"org:{org.id}".encode()).hexdigest()[:24]

    # -- storage -----------------------------------------------------------------------------

    def storage_limit_bytes(self, org: Organization) -> int:
        return (org.quota_storage_mb or self._defaults.storage_mb) * MB

    def storage_used_bytes(self, org_id: int) -> int:
        """Messages, kept media and documents, summed at most once a minute."""
        now = time.monotonic()
        with self._guard:
            cached = self._storage_sums.get(org_id)
        if cached is not None and now - cached[0] < _STORAGE_CACHE_SECONDS:
            return cached[1]
        used = stored_bytes(self._db, org_id)
        with self._guard:
            self._storage_sums[org_id] = (now, used)
        return used

    def check_storage(self, org_id: int, adding: int = 0) -> None:
        """Raises:
        StorageQuotaExceeded: ``adding`` more bytes would pass the organization's quota.
        """
        with self._db.read() as session:
            org = session.get(Organization, org_id)
        if org is None:
            return
        used, limit = self.storage_used_bytes(org_id), self.storage_limit_bytes(org)
        if used + adding > limit:
            raise StorageQuotaExceeded(
                f"the organization's storage quota is used up ({used / MB:.1f} of "
                f"{limit // MB} MB): delete documents, or ask the operator for a larger quota"
            )

    def forget_storage(self, org_id: int) -> None:
        """Sum again next time (after an upload or a deletion)."""
        with self._guard:
            self._storage_sums.pop(org_id, None)

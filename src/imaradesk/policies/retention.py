"""Retention: when a row written now may be deleted."""

from __future__ import annotations

from datetime import datetime, timedelta

DEFAULT_RETENTION_DAYS = 365


def retain_until(now: datetime, retention_days: int) -> datetime:
    return now + timedelta(days=retention_days)


# How long a delivery is recognised after it arrived, whatever becomes of the message: Meta
# retries an unacknowledged webhook for up to 7 days, so a day more than that.
DELIVERY_KEY_LIFETIME = timedelta(days=8)

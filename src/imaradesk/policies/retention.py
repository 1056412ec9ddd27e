"""Retention: when a row written now may be deleted."""

from __future__ import annotations

from datetime import datetime, timedelta

DEFAULT_RETENTION_DAYS = 365


def retain_until(now: datetime, retention_days: int) -> datetime:
    return now + timedelta(days=retention_days)

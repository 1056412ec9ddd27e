"""What each organization's AI calls cost: one AIUsage row per call, never the text.

Each row is written in its own short transaction, after the call: a provider call must never
run while a database write transaction is open (it would hold SQLite's write lock, or a
PostgreSQL connection, for as long as the provider takes).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from imaradesk.runtime.clock import Clock
from imaradesk.storage.db import Database
from imaradesk.storage.errors import StorageError
from imaradesk.storage.usage_repository import UsageEntry, UsageRecords, store_usage

log = logging.getLogger(__name__)

# What became of a call: "ok" an answer we used, "no_answer" the model said the passages do not
# answer, "rejected" an answer that failed our checks (a citation of no passage), "timeout"
# and "error" no usable answer from the provider.
OUTCOMES = ("ok", "no_answer", "rejected", "timeout", "error")


@dataclass(frozen=True)
class UsageTotal:
    day: date
    provider: str
    model: str
    calls: int
    input_tokens: int
    output_tokens: int
    failures: int


class UsageLog:
    def __init__(self, database: Database, clock: Clock) -> None:
        self._db = database
        self._clock = clock

    def record(
        self,
        *,
        org_id: int,
        provider: str,
        model: str,
        purpose: str,
        outcome: str,
        input_tokens: int,
        output_tokens: int,
        latency_ms: int,
    ) -> None:
        """Store one call's usage; a failure to store is logged, never passed to the customer."""
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown AI call outcome {outcome!r}")
        entry = UsageEntry(
            org_id=org_id,
            provider=provider[:32],
            model=model[:100],
            purpose=purpose[:32],
            outcome=outcome,
            input_tokens=max(0, input_tokens),
            output_tokens=max(0, output_tokens),
            latency_ms=max(0, latency_ms),
            at=self._clock.now(),
        )
        try:
            store_usage(self._db, entry)
        except StorageError:
            log.exception("could not record AI usage", extra={"org_id": org_id})

    def totals(self, org_id: int, *, days: int = 30) -> list[UsageTotal]:
        """Calls and tokens per day, provider and model over the last ``days`` days (UTC)."""
        since: datetime = self._clock.now() - timedelta(days=days)
        with self._db.read() as session:
            rows = UsageRecords(session).since(org_id=org_id, since=since)
        # Grouped here rather than in SQL: day arithmetic differs between SQLite and PostgreSQL.
        sums: dict[tuple[date, str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
        for row in rows:
            total = sums[(row.created_at.date(), row.provider, row.model)]
            total[0] += 1
            total[1] += row.input_tokens
            total[2] += row.output_tokens
            total[3] += row.outcome in ("timeout", "error")
        return [
            UsageTotal(day, provider, model, *values)
            for (day, provider, model), values in sorted(sums.items())
        ]

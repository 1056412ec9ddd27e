"""Turns answered after their webhook: kept in the database until answered, run by a worker.

Twilio gives a webhook 15 seconds and Meta waits for no answer at all. When an organization's
answers are written by an LLM, when a message comes over the organization's quota, and for every
Meta message, the webhook keeps the message (sealed with the organization's key) as a pending
turn, queues a job for it and acknowledges; a worker (a thread of the web process, or
``imaradesk worker --jobs`` through RQ) runs the turn, hands the stored replies to delivery,
which sends them through the customer's channel, and removes the pending turn.

The pending row, not the job, is the promise that the message is answered: a job lost with a
killed worker or with Redis's memory is queued again by ``resume`` (the sweeper's, every few
seconds), and a message held back by the quota is queued when the quota has room. A turn that
runs twice is answered once: the dialogue deduplicates by the provider's message id, and
delivery sends only what is unsent.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from imaradesk.bot.dialogue import DialogueManager
from imaradesk.channels.messages import InboundMessage, Media
from imaradesk.delivery.media_fetch import MediaFetcher
from imaradesk.delivery.outbound import OutboundService
from imaradesk.runtime.clock import Clock
from imaradesk.runtime.jobs import JobQueue
from imaradesk.runtime.metrics import PENDING_TURNS
from imaradesk.storage.db import Database
from imaradesk.storage.models import Organization, PendingTurn
from imaradesk.storage.pending_turn_repository import NewPending, PendingTurnStore
from imaradesk.tenants.organizations import OrganizationService
from imaradesk.tenants.quotas import OrganizationQuotas

log = logging.getLogger(__name__)

TURN_TASK = "turn"
# A turn that failed, or whose replies the provider refused, this many times is left for an
# operator (its row stays; the console shows the undelivered reply, with its retry button).
MAX_ATTEMPTS = 8
# Replies the provider refused (a 500, a timeout) are sent again after this, doubling each
# time up to RETRY_LONGEST: some 30 minutes of an outage are covered.
RETRY_FIRST = timedelta(seconds=15)
RETRY_LONGEST = timedelta(minutes=10)
# A queued turn is looked for in the queue only after this long: its job may not be in the
# queue yet, a moment after the webhook stored it.
REQUEUE_AFTER = timedelta(seconds=15)
# Rows read per organization and pass.
_RESUME_BATCH = 500


def pending_job_name(org_id: int, pending_id: int) -> str:
    return f"turn-{org_id}-{pending_id}"


class BackgroundTurns:
    def __init__(
        self,
        *,
        database: Database,
        dialogue: DialogueManager,
        outbound: OutboundService,
        organizations: OrganizationService,
        queue: JobQueue,
        quotas: OrganizationQuotas,
        clock: Clock,
        media: MediaFetcher | None = None,
    ) -> None:
        self._media = media
        self._db = database
        self._dialogue = dialogue
        self._outbound = outbound
        self._organizations = organizations
        self._queue = queue
        self._quotas = quotas
        self._clock = clock
        self._pending = PendingTurnStore(database)

    def over_quota(self, org: Organization, channel: str) -> datetime | None:
        """Count one message against the organization's quota: None if it may be answered
        now, else when it will be (never for a channel whose replies cannot be sent later: a
        customer's message is never left unanswered for a quota)."""
        admission = self._quotas.admit_message(org)
        if admission.allowed or not self._outbound.can_answer_later(org, channel):
            return None
        PENDING_TURNS.labels(event="deferred").inc()
        return self._clock.now() + admission.retry_after

    def accept(self, org: Organization, message: InboundMessage) -> None:
        """Keep a signed provider message and answer it from a worker, now or, over the
        organization's quota, when the quota allows."""
        self.submit(org, message, not_before=self.over_quota(org, message.channel))

    def submit(
        self, org: Organization, message: InboundMessage, *, not_before: datetime | None = None
    ) -> None:
        """Keep the message as a pending turn and queue its job (none yet before ``not_before``).

        Raises:
            StorageUnavailable: the database is away; nothing was kept (the provider retries).
        """
        assert org.id is not None
        payload = asdict(message)
        payload["received_at"] = message.received_at.isoformat()
        sealed = self._db.keystore.seal_bytes(org.id, json.dumps(payload).encode(), "turn")
        now = self._clock.now()
        later = not_before is not None and not_before > now
        pending_id = self._pending.add(
            org.id,
            NewPending(
                channel=message.channel,
                sender_id=message.sender_id,
                provider_message_id=message.provider_message_id,
                sealed=sealed,
                received_at=message.received_at,
                not_before=not_before if later and not_before else now,
                queued_at=None if later else now,
            ),
        )
        if pending_id is None or later:
            return  # a retry of a message already waiting, or one whose time is not yet
        self._enqueue(org.id, pending_id)

    def _enqueue(self, org_id: int, pending_id: int) -> bool:
        try:
            self._queue.enqueue(
                TURN_TASK,
                job_name=pending_job_name(org_id, pending_id),
                org_id=org_id,
                pending=pending_id,
            )
        except Exception:  # Redis away: the message is kept, and resume queues it later
            log.warning(
                "could not queue a turn; it waits in the database", extra={"org_id": org_id}
            )
            return False
        return True

    def run(self, arguments: dict[str, Any]) -> None:
        org_id = int(arguments["org_id"])
        org = self._organizations.get(org_id)
        if org is None or org.data_destroyed_at is not None:
            return  # the organization went away while the message waited
        pending_id: int | None = None
        if "pending" in arguments:
            pending_id = int(arguments["pending"])
            row = self._pending.get(org_id, pending_id)
            if row is None:
                return  # answered already (by another job for it), or erased with its sender
            self._pending.started(org_id, pending_id)
            sealed = row.sealed
        else:
            sealed = base64.b64decode(arguments["message"])  # queued by an earlier version
        payload = json.loads(self._db.keystore.open_bytes(org_id, sealed, "turn"))
        payload["received_at"] = datetime.fromisoformat(payload["received_at"])
        payload["media"] = tuple(Media(**m) for m in payload.get("media") or ())
        settled = self._answer(org, InboundMessage(**payload))
        if pending_id is None:
            return
        if settled:
            self._pending.done(org_id, pending_id)
        else:
            # Answered, not yet delivered: the turn runs again later and sends what is unsent.
            attempt = self._pending_attempts(org_id, pending_id)
            retry_in = min(RETRY_FIRST * 2 ** max(attempt - 1, 0), RETRY_LONGEST)
            self._pending.postpone(org_id, [pending_id], self._clock.now() + retry_in)

    def _pending_attempts(self, org_id: int, pending_id: int) -> int:
        row = self._pending.get(org_id, pending_id)
        return row.attempts if row is not None else MAX_ATTEMPTS

    def _answer(self, org: Organization, message: InboundMessage) -> bool:
        """Run the turn and send its replies; whether it is settled (every reply handed to
        the channel, or none to send)."""
        assert org.id is not None
        # Before the turn, which may take seconds: the customer sees it read and being answered.
        self._outbound.acknowledge(
            org, channel=message.channel, provider_message_id=message.provider_message_id
        )
        turn = self._dialogue.handle(org, message)
        if turn.erased:
            # Its rows went with the customer: the confirmation goes out unrecorded.
            self._outbound.send_unrecorded(
                org, channel=message.channel, address=message.sender_id, replies=turn.replies
            )
            return True
        if turn.inbound_message_id is None or not turn.replies:
            return True
        # On a redelivery, or this turn run again after a crash, only replies never sent (and
        # not being sent by another worker right now) go out.
        result = self._outbound.send_replies(org, turn.inbound_message_id)
        if result.failed:
            log.warning(
                "background replies not delivered",
                extra={"org_id": org.id, "failed": result.failed},
            )
        if self._media is not None and not turn.duplicate:
            # After the replies: the customer's answer never waits for a download.
            self._media.submit(org, message, turn.inbound_message_id)
        return not result.failed and not self._outbound.replies_in_flight(
            org, turn.inbound_message_id
        )

    def resume(self) -> int:
        """Queue the pending turns whose job was lost and those whose time has come (within
        their organization's quota). Returns how many were queued."""
        now = self._clock.now()
        queued = 0
        stale = now - REQUEUE_AFTER
        for org_id in self._pending.due_organizations(
            now, queued_before=stale, max_attempts=MAX_ATTEMPTS
        ):
            org = self._organizations.get(org_id)
            if org is None or org.data_destroyed_at is not None:
                continue
            rows = self._pending.due(
                org_id, now, queued_before=stale, max_attempts=MAX_ATTEMPTS, limit=_RESUME_BATCH
            )
            ready, held = self._sort_due(org, rows, now)
            if held:
                self._pending.postpone(org_id, [r.id for r, _ in held if r.id], held[0][1])
            taken = [row.id for row in ready if row.id and self._enqueue(org_id, row.id)]
            if taken:
                self._pending.queued(org_id, taken, now)
                queued += len(taken)
        if queued:
            PENDING_TURNS.labels(event="resumed").inc(queued)
            log.info("queued pending turns", extra={"turns": queued})
        return queued

    def _sort_due(
        self, org: Organization, rows: Sequence[PendingTurn], now: datetime
    ) -> tuple[list[PendingTurn], list[tuple[PendingTurn, datetime]]]:
        """Rows to queue now (jobs lost; held back ones the quota now has room for), and held
        back ones that must wait again, with until when."""
        ready: list[PendingTurn] = []
        held: list[tuple[PendingTurn, datetime]] = []
        for row in rows:
            if row.queued_at is not None:
                if not self._queue.holds(pending_job_name(org.id or 0, row.id or 0)):
                    ready.append(row)  # its job was lost
            elif held:
                held.append((row, held[0][1]))
            else:
                admission = self._quotas.admit_message(org)
                if admission.allowed:
                    ready.append(row)
                else:
                    held.append((row, now + max(admission.retry_after, timedelta(seconds=1))))
        return ready, held

    def resume_forever(self, every: float, stop: threading.Event | None = None) -> None:
        """``resume`` every ``every`` seconds until ``stop`` is set (a thread of the process
        that runs the jobs on the embedded default; the sweeper's loop with RQ)."""
        stop = stop or threading.Event()
        while not stop.wait(every):
            try:
                self.resume()
            except Exception:  # the database may be away a moment; the next pass tries again
                log.warning("could not resume pending turns", exc_info=True)

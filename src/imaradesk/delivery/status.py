"""Recording the delivery statuses that providers report for our outbound messages."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from imaradesk.channels.base import StatusReport, statuses_superseded_by
from imaradesk.channels.messages import Reaction
from imaradesk.runtime.clock import Clock
from imaradesk.storage.delivery_repository import DeliveryRepository

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeliveryUpdate:
    found: bool
    applied: bool
    status: str | None


class DeliveryTracker:
    def __init__(self, repository: DeliveryRepository, clock: Clock) -> None:
        self._repository = repository
        self._clock = clock

    def record_reaction(self, org_id: int, reaction: Reaction) -> bool:
        """Keep a customer's reaction on the message it is about (False: no such message of
        theirs, e.g. it expired)."""
        found = self._repository.apply_reaction(
            org_id=org_id,
            channel=reaction.channel,
            sender_id=reaction.sender_id,
            provider_message_id=reaction.provider_message_id,
            emoji=reaction.emoji,
        )
        if not found:
            log.info("reaction to an unknown message", extra={"org_id": org_id})
        return found

    def record(self, org_id: int, channel: str, report: StatusReport) -> DeliveryUpdate:
        """Apply a status report to the outbound message it is about (statuses never regress)."""
        outcome = self._repository.apply_report(
            org_id=org_id,
            channel=channel,
            provider_message_id=report.provider_message_id,
            our_message_id=report.our_message_id,
            status=report.status,
            error_code=report.error_code,
            replaces=statuses_superseded_by(report.status),
            now=self._clock.now(),
            pricing_category=report.pricing_category,
        )
        if not outcome.found:
            log.info("status for an unknown message", extra={"org_id": org_id})
        return DeliveryUpdate(outcome.found, outcome.applied, outcome.status)

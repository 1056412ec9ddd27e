"""Recording the delivery status that providers report for our outbound messages."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from imaradesk.channels.twilio import StatusCallback, status_supersedes
from imaradesk.runtime.clock import Clock
from imaradesk.storage.db import Database
from imaradesk.storage.models import Direction
from imaradesk.storage.repositories import OrgData

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeliveryUpdate:
    found: bool
    applied: bool
    status: str | None


class DeliveryTracker:
    def __init__(self, database: Database, clock: Clock) -> None:
        self._db = database
        self._clock = clock

    def record(self, org_id: int, channel: str, callback: StatusCallback) -> DeliveryUpdate:
        """Apply a status callback to the outbound message it is about (statuses never regress)."""
        with self._db.write() as session:
            data = OrgData(session, org_id)
            message = data.find_message(
                channel=channel,
                direction=Direction.OUTBOUND,
                provider_message_id=callback.provider_message_id,
            )
            if message is None and callback.our_message_id is not None:
                candidate = data.get_message(callback.our_message_id)
                if (
                    candidate is not None
                    and candidate.direction == Direction.OUTBOUND
                    and candidate.channel == channel
                ):
                    message = candidate
            if message is None:
                log.info("status for an unknown message", extra={"org_id": org_id})
                return DeliveryUpdate(False, False, None)
            changes: dict[str, object] = {}
            if message.provider_message_id is None:
                changes["provider_message_id"] = callback.provider_message_id
            applied = status_supersedes(callback.status, message.delivery_status)
            if applied:
                changes.update(
                    delivery_status=callback.status,
                    delivery_error_code=callback.error_code,
                    delivery_updated_at=self._clock.now(),
                )
            if changes:
                data.update_message(message, **changes)
            return DeliveryUpdate(True, applied, message.delivery_status)

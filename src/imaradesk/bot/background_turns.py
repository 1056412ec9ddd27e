"""Turns that may take longer than a webhook may wait: handled by a worker, then delivered.

Twilio gives a webhook 15 seconds. When an organization's answers are written by an LLM, a turn
can approach that, so the webhook only queues the message and acknowledges; a worker (a thread
of the web process, or ``imaradesk worker --jobs`` through RQ) runs the turn and hands the
stored replies to delivery, which sends them through the customer's channel (for WhatsApp,
Twilio's REST API). The queued message is sealed with the organization's key: RQ keeps job
arguments in Redis.
"""

from __future__ import annotations

import base64
import json
import logging
from dataclasses import asdict
from datetime import datetime
from typing import Any

from imaradesk.bot.dialogue import DialogueManager
from imaradesk.channels.messages import InboundMessage, Media
from imaradesk.delivery.media_fetch import MediaFetcher
from imaradesk.delivery.outbound import OutboundService
from imaradesk.runtime.jobs import JobQueue
from imaradesk.storage.db import Database
from imaradesk.storage.models import Organization
from imaradesk.tenants.organizations import OrganizationService

log = logging.getLogger(__name__)

TURN_TASK = "turn"


class BackgroundTurns:
    def __init__(
        self,
        *,
        database: Database,
        dialogue: DialogueManager,
        outbound: OutboundService,
        organizations: OrganizationService,
        queue: JobQueue,
        media: MediaFetcher | None = None,
    ) -> None:
        self._media = media
        self._db = database
        self._dialogue = dialogue
        self._outbound = outbound
        self._organizations = organizations
        self._queue = queue

    def submit(self, org: Organization, message: InboundMessage) -> None:
        assert org.id is not None
        payload = asdict(message)
        payload["received_at"] = message.received_at.isoformat()
        sealed = self._db.keystore.seal_bytes(org.id, json.dumps(payload).encode(), "turn")
        self._queue.enqueue(
            TURN_TASK, org_id=org.id, message=base64.b64encode(sealed).decode("ascii")
        )

    def run(self, arguments: dict[str, Any]) -> None:
        org_id = int(arguments["org_id"])
        org = self._organizations.get(org_id)
        if org is None or org.data_destroyed_at is not None:
            return  # the organization went away while the message waited
        sealed = base64.b64decode(arguments["message"])
        payload = json.loads(self._db.keystore.open_bytes(org_id, sealed, "turn"))
        payload["received_at"] = datetime.fromisoformat(payload["received_at"])
        payload["media"] = tuple(Media(**m) for m in payload.get("media") or ())
        message = InboundMessage(**payload)
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
            return
        if turn.inbound_message_id is None or not turn.replies:
            return
        if turn.duplicate:
            # A redelivery: the first delivery answered, unless its process stopped between
            # storing the replies and sending them; only replies never sent (and not being
            # sent by another worker right now) go out.
            self._outbound.send_replies(org, turn.inbound_message_id)
            return
        result = self._outbound.send_replies(org, turn.inbound_message_id)
        if result.failed:
            log.warning(
                "background replies not delivered",
                extra={"org_id": org_id, "failed": result.failed},
            )
        if self._media is not None:
            # After the replies: the customer's answer never waits for a download.
            self._media.submit(org, message, turn.inbound_message_id)

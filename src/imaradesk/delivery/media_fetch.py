"""Fetching customers' media from the provider, for organizations that keep it.

WhatsApp delivers a voice note or a photo as an id: the file stays with Meta, behind the
access token, for about 30 days. An organization that turned media on gets each file fetched
after the turn (never before: the customer's answer must not wait for a download), sealed
and stored with its message, so an agent can play the voice note in the console. Others keep
the metadata only.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from imaradesk.channels.base import MediaSource, MediaTooLarge, SendFailed
from imaradesk.channels.messages import InboundMessage
from imaradesk.runtime.clock import Clock
from imaradesk.runtime.jobs import JobQueue
from imaradesk.storage.media_repository import MediaRepository
from imaradesk.storage.models import Organization

log = logging.getLogger(__name__)

MEDIA_TASK = "media"
META_MEDIA = "meta-media:"  # how the Meta adapter names a medium it did not fetch


class FindsOrganizations(Protocol):
    def get(self, org_id: int) -> Organization | None: ...


class MediaFetcher:
    def __init__(
        self,
        *,
        source: MediaSource,
        repository: MediaRepository,
        organizations: FindsOrganizations,
        queue: JobQueue,
        clock: Clock,
        max_bytes: int,
    ) -> None:
        self._source = source
        self._repository = repository
        self._organizations = organizations
        self._queue = queue
        self._clock = clock
        self._max_bytes = max_bytes

    def submit(self, org: Organization, message: InboundMessage, message_id: int) -> bool:
        """Queue the fetch of this stored message's media, if the organization keeps media."""
        assert org.id is not None
        if not org.fetch_media or not any(m.url.startswith(META_MEDIA) for m in message.media):
            return False
        self._queue.enqueue(MEDIA_TASK, org_id=org.id, message_id=message_id)
        return True

    def run(self, arguments: dict[str, Any]) -> int:
        """Fetch and keep the message's media; how many files were kept."""
        org = self._organizations.get(int(arguments["org_id"]))
        if org is None or org.id is None or not org.fetch_media or not org.meta_access_token:
            return 0  # turned off, or the organization went, while the job waited
        message_id = int(arguments["message_id"])
        message = self._repository.inbound_media(org_id=org.id, message_id=message_id)
        if message is None:
            return 0  # erased or expired meanwhile: nothing to keep it for
        kept = 0
        for position, medium in enumerate(message.media):
            url = str(medium.get("url") or "")
            if not url.startswith(META_MEDIA):
                continue
            try:
                fetched = self._source.fetch_media(
                    url.removeprefix(META_MEDIA),
                    access_token=org.meta_access_token,
                    max_bytes=self._max_bytes,
                )
            except MediaTooLarge:
                log.info("customer media too large to keep", extra={"org_id": org.id})
                continue
            except SendFailed as e:
                log.warning("customer media not fetched", extra={"org_id": org.id, "code": e.code})
                continue
            kept += self._repository.add(
                org_id=org.id,
                message_id=message_id,
                position=position,
                content_type=fetched.content_type,
                data=fetched.data,
                now=self._clock.now(),
            )
        return kept

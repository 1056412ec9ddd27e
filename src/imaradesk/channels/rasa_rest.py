"""Rasa's REST channel, spoken by us, so that chat widgets built for a Rasa server work unchanged.

Request (as Rasa's ``POST /webhooks/rest/webhook``): ``{"sender": "...", "message": "..."}``,
optionally ``"message_id"`` (ours: a client that retries should send one, so that a retry is
answered from the stored replies). Response: a JSON list of ``{"recipient_id", "text"}``, one
per reply, empty when the bot stays silent. The sender id becomes the contact's address on the
channel ``rasa``; unlike Rasa we refuse a missing sender rather than merge strangers under
"default".
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from imaradesk.bot.messages import InboundMessage, OutboundMessage
from imaradesk.channels.base import MalformedRequest

MAX_TEXT = 4096
MAX_SENDER = 200
MAX_ID = 100


class MessageTooLong(MalformedRequest):
    """The message is longer than we accept (413, not 400: the request was understood)."""


class RasaRestChannel:
    name = "rasa"
    max_text_length = MAX_TEXT

    def parse(self, payload: Any, *, org_slug: str, received_at: datetime) -> list[InboundMessage]:
        if not isinstance(payload, dict):
            raise MalformedRequest('the body must be a JSON object {"sender", "message"}')
        sender = payload.get("sender")
        message = payload.get("message")
        message_id = payload.get("message_id")
        # Widgets send the sender id as a string or, some, as a number.
        if isinstance(sender, int) and not isinstance(sender, bool):
            sender = str(sender)
        if not isinstance(sender, str) or not sender.strip():
            raise MalformedRequest('"sender" is required and must be a non-empty string')
        if len(sender) > MAX_SENDER:
            raise MalformedRequest(f'"sender" is longer than {MAX_SENDER} characters')
        if not isinstance(message, str) or not message.strip():
            raise MalformedRequest('"message" is required and must be a non-empty string')
        if len(message) > MAX_TEXT:
            raise MessageTooLong(f'"message" is longer than {MAX_TEXT} characters')
        if message_id is not None and (not isinstance(message_id, str) or not message_id.strip()):
            raise MalformedRequest('"message_id" must be a non-empty string when given')
        if message_id is not None and len(message_id) > MAX_ID:
            raise MalformedRequest(f'"message_id" is longer than {MAX_ID} characters')
        return [
            InboundMessage(
                org_slug=org_slug,
                channel=self.name,
                sender_id=sender.strip(),
                # Rasa widgets send no id: a server id keeps every stored message distinct.
                provider_message_id=message_id.strip() if message_id else f"srv-{uuid.uuid4()}",
                received_at=received_at,
                text=message,
            )
        ]

    def render(
        self, replies: Sequence[OutboundMessage], *, recipient_id: str, **_: Any
    ) -> list[dict[str, str]]:
        return [{"recipient_id": recipient_id, "text": reply.text} for reply in replies]

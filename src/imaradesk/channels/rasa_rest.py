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

from imaradesk.channels.base import (
    ChannelCapabilities,
    DeliveryMode,
    MalformedRequest,
    PollMailbox,
    ProviderAccount,
    Recipient,
    SendReceipt,
    hold_for_poll,
    json_string,
)
from imaradesk.channels.messages import InboundMessage, OutboundMessage

MAX_TEXT = 4096
# A visitor token may stand as the sender (web/rasa_routes.py): room for one naming a long id.
MAX_SENDER = 512
MAX_ID = 100


class MessageTooLong(MalformedRequest):
    """The message is longer than we accept (413, not 400: the request was understood)."""


class RasaRestChannel:
    name = "rasa"
    max_text_length = MAX_TEXT
    capabilities = ChannelCapabilities(delivery=DeliveryMode.POLL, serves=("rasa",))

    def __init__(self, *, mailbox: PollMailbox | None = None) -> None:
        # Parsing and rendering need no mailbox; only sending does.
        self._mailbox = mailbox

    def parse(self, payload: Any, *, org_slug: str, received_at: datetime) -> list[InboundMessage]:
        if not isinstance(payload, dict):
            raise MalformedRequest('the body must be a JSON object {"sender", "message"}')
        # Widgets send the sender id as a string or, some, as a number.
        if isinstance(payload.get("sender"), int) and not isinstance(payload["sender"], bool):
            payload = {**payload, "sender": str(payload["sender"])}
        sender = json_string(payload, "sender", limit=MAX_SENDER)
        message = json_string(payload, "message", limit=MAX_TEXT, too_long=MessageTooLong)
        message_id = json_string(payload, "message_id", limit=MAX_ID, required=False)
        assert sender is not None and message is not None
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

    def send(
        self,
        message: OutboundMessage,
        *,
        to: Recipient,
        account: ProviderAccount | None = None,
    ) -> SendReceipt:
        """Hold the stored message for the visitor's next poll (templates go as their text)."""
        return hold_for_poll(self._mailbox, message, to=to)

"""A JSON web-chat channel for widgets and scripts.

Request: ``{"text": "...", "id": "optional client message id"}``, with ``"sender"`` set by the
web layer to the address of the visitor token the request carried (channels/visitor_identity.py;
a sender the client wrote is overwritten, never trusted). Clients that may retry should send
``id``: a retried message with the same id is answered from the stored replies instead of twice.
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
MAX_SENDER = 200
MAX_ID = 100


class WebChatChannel:
    name = "webchat"
    max_text_length = MAX_TEXT
    capabilities = ChannelCapabilities(delivery=DeliveryMode.POLL, serves=("webchat",))

    def __init__(self, *, mailbox: PollMailbox | None = None) -> None:
        # Parsing and rendering need no mailbox; only sending does.
        self._mailbox = mailbox

    def parse(self, payload: Any, *, org_slug: str, received_at: datetime) -> list[InboundMessage]:
        if not isinstance(payload, dict):
            raise MalformedRequest("the body must be a JSON object")
        sender = json_string(payload, "sender", limit=MAX_SENDER)
        text = json_string(payload, "text", limit=MAX_TEXT)
        message_id = json_string(payload, "id", limit=MAX_ID, required=False)
        assert sender is not None and text is not None
        return [
            InboundMessage(
                org_slug=org_slug,
                channel=self.name,
                sender_id=sender.strip(),
                # Without a client id a retry cannot be recognised; a server id still keeps
                # every stored message distinct.
                provider_message_id=message_id.strip() if message_id else f"srv-{uuid.uuid4()}",
                received_at=received_at,
                text=text,
            )
        ]

    def render(self, replies: Sequence[OutboundMessage], **_: Any) -> dict[str, Any]:
        return {
            "replies": [
                {
                    "text": reply.text,
                    "kind": reply.kind.value,
                    "sources": [
                        {
                            "entry_id": s.entry_id,
                            "external_id": s.external_id,
                            "question": s.question,
                            "score": s.score,
                        }
                        for s in reply.sources
                    ],
                    "handoff": reply.handoff,
                    # Choices to show as buttons; sending an option's id picks it.
                    "options": [{"id": o.id, "title": o.title} for o in reply.options],
                }
                for reply in replies
            ]
        }

    def send(
        self,
        message: OutboundMessage,
        *,
        to: Recipient,
        account: ProviderAccount | None = None,
    ) -> SendReceipt:
        """Hold the stored message for the visitor's next poll (templates go as their text)."""
        return hold_for_poll(self._mailbox, message, to=to)

"""Twilio's WhatsApp (and SMS) webhooks: signature checks, parsing, TwiML replies, statuses."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from twilio.request_validator import RequestValidator, get_signature_algorithm
from twilio.twiml.messaging_response import MessagingResponse

from imaradesk.channels.base import MalformedRequest, SignatureInvalid, split_text
from imaradesk.channels.messages import InboundMessage, Media, OutboundMessage

# Twilio refuses message bodies over 1,600 characters.
TWILIO_MAX_BODY = 1600
MAX_MEDIA = 10

# Delivery statuses in the order a message moves through them; a late callback for an earlier
# status never overwrites a later one.
_STATUS_RANK = {
    "accepted": 0,
    "scheduled": 0,
    "queued": 1,
    "sending": 2,
    "sent": 3,
    "failed": 4,
    "undelivered": 4,
    "delivered": 5,
    "read": 6,
}
KNOWN_STATUSES = frozenset(_STATUS_RANK)


def verify_signature(
    *,
    auth_token: str,
    url: str,
    params: Mapping[str, Any],
    signature: str | None,
    signature_settings: str | None = None,
) -> None:
    """Check X-Twilio-Signature over the URL and every form field received.

    Raises:
        SignatureInvalid: the signature is missing or does not match.
    """
    if not signature:
        raise SignatureInvalid("missing X-Twilio-Signature")
    algorithm = get_signature_algorithm(signature_settings)
    if not RequestValidator(auth_token).validate(url, params, signature, algorithm=algorithm):
        raise SignatureInvalid("X-Twilio-Signature does not match the request")


def _field(form: Mapping[str, Any], name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _address(raw: str) -> tuple[str, str]:
    """'whatsapp:+254700000001' -> ('whatsapp', '+254700000001'); a bare number is SMS."""
    if raw.lower().startswith("whatsapp:"):
        return "whatsapp", raw.split(":", 1)[1].strip()
    return "sms", raw


class TwilioChannel:
    name = "twilio"
    max_text_length = TWILIO_MAX_BODY

    def parse(
        self, payload: Mapping[str, Any], *, org_slug: str, received_at: datetime
    ) -> list[InboundMessage]:
        sid = _field(payload, "MessageSid") or _field(payload, "SmsMessageSid")
        sender = _field(payload, "From")
        if not sid:
            raise MalformedRequest("MessageSid is missing")
        if not sender:
            raise MalformedRequest("From is missing")
        channel, address = _address(sender)
        if not address:
            raise MalformedRequest("From has no address")
        num_media_raw = _field(payload, "NumMedia") or "0"
        try:
            num_media = int(num_media_raw)
        except ValueError:
            raise MalformedRequest(f"NumMedia is not a number: {num_media_raw[:20]!r}") from None
        if not 0 <= num_media <= MAX_MEDIA:
            raise MalformedRequest(f"NumMedia out of range: {num_media}")
        media = tuple(
            Media(
                url=_field(payload, f"MediaUrl{i}"),
                content_type=_field(payload, f"MediaContentType{i}"),
            )
            for i in range(num_media)
            if _field(payload, f"MediaUrl{i}")
        )
        recipient = _field(payload, "To")
        return [
            InboundMessage(
                org_slug=org_slug,
                channel=channel,
                sender_id=address,
                provider_message_id=sid,
                received_at=received_at,
                text=payload.get("Body") or "",
                profile_name=_field(payload, "ProfileName") or None,
                media=media,
                button_payload=_field(payload, "ButtonPayload") or None,
                recipient_id=_address(recipient)[1] if recipient else None,
            )
        ]

    def render(
        self, replies: Sequence[OutboundMessage], *, status_url: str | None = None, **_: Any
    ) -> str:
        """TwiML with one <Message> per chunk of each reply, each reporting its status."""
        response = MessagingResponse()
        for reply in replies:
            action = None
            if status_url and reply.message_id is not None:
                separator = "&" if "?" in status_url else "?"
                action = f"{status_url}{separator}m={reply.message_id}"
            for chunk in split_text(reply.text, self.max_text_length):
                response.message(chunk, action=action, method="POST" if action else None)
        return str(response)


@dataclass(frozen=True)
class StatusCallback:
    provider_message_id: str
    status: str
    error_code: str | None
    our_message_id: int | None


def parse_status(form: Mapping[str, Any], query: Mapping[str, Any]) -> StatusCallback:
    sid = _field(form, "MessageSid") or _field(form, "SmsSid")
    status = (_field(form, "MessageStatus") or _field(form, "SmsStatus")).lower()
    if not sid:
        raise MalformedRequest("MessageSid is missing")
    if status not in KNOWN_STATUSES:
        raise MalformedRequest(f"unknown MessageStatus {status[:30]!r}")
    raw_id = query.get("m")
    our_id = int(raw_id) if isinstance(raw_id, str) and raw_id.isdigit() else None
    return StatusCallback(sid, status, _field(form, "ErrorCode") or None, our_id)


def status_supersedes(new: str, current: str | None) -> bool:
    """Whether ``new`` should replace ``current`` (statuses only move forward)."""
    if current is None:
        return True
    return _STATUS_RANK.get(new, -1) > _STATUS_RANK.get(current, -1)

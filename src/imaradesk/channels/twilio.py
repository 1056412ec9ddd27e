"""Twilio's WhatsApp (and SMS): webhook signatures, parsing, TwiML replies, statuses, sending.

Sending goes through Twilio's Messages API (``twilio_sender``), once per call: delivery retries.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from twilio.request_validator import RequestValidator, get_signature_algorithm
from twilio.twiml.messaging_response import MessagingResponse

from imaradesk.channels.base import (
    AWAITING_POLL,
    KNOWN_STATUSES,
    ChannelCapabilities,
    DeliveryMode,
    MalformedRequest,
    ProviderAccount,
    Recipient,
    SendFailed,
    SendReceipt,
    SignatureInvalid,
    StatusReport,
    TemplateMessage,
    split_text,
    status_supersedes,
)
from imaradesk.channels.messages import InboundMessage, Media, OutboundMessage
from imaradesk.channels.twilio_sender import TwilioSender

__all__ = [
    "KNOWN_STATUSES",
    "MAX_MEDIA",
    "TWILIO_MAX_BODY",
    "StatusCallback",
    "TwilioChannel",
    "parse_status",
    "status_supersedes",
    "verify_signature",
]

# Twilio refuses message bodies over 1,600 characters.
TWILIO_MAX_BODY = 1600
MAX_MEDIA = 10
# Twilio's ids are two letters and 32 hex digits. Checked because Twilio's signature covers the
# form's keys and values run together: a captured request with a field removed and its
# characters appended to the MessageSid signs the same, and would pass for a new message.
_MESSAGE_SID = re.compile(r"(?:SM|MM)[0-9a-fA-F]{32}")
_ACCOUNT_SID = re.compile(r"AC[0-9a-fA-F]{32}")
_PHONE = re.compile(r"\+?[0-9]{5,20}")
# What Twilio may report ("awaiting_poll" is ours, for pull channels).
KNOWN_STATUSES = KNOWN_STATUSES - {AWAITING_POLL}
# WhatsApp's customer-service window: free text only this long after the customer wrote.
WHATSAPP_SERVICE_WINDOW = timedelta(hours=24)


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
    """WhatsApp and SMS through one Twilio account per organization.

    ``public_base_url`` is where Twilio reaches us for status callbacks; without it, sent
    messages report no status.
    """

    name = "twilio"
    max_text_length = TWILIO_MAX_BODY
    capabilities = ChannelCapabilities(
        delivery=DeliveryMode.PUSH,
        serves=("whatsapp", "sms"),
        service_windows=(("whatsapp", WHATSAPP_SERVICE_WINDOW),),
    )

    def __init__(
        self, *, sender: TwilioSender | None = None, public_base_url: str | None = None
    ) -> None:
        self._sender = sender or TwilioSender()
        self._base_url = public_base_url.rstrip("/") if public_base_url else None

    def parse(
        self, payload: Mapping[str, Any], *, org_slug: str, received_at: datetime
    ) -> list[InboundMessage]:
        sid = _field(payload, "MessageSid") or _field(payload, "SmsMessageSid")
        sender = _field(payload, "From")
        if not sid:
            raise MalformedRequest("MessageSid is missing")
        if not _MESSAGE_SID.fullmatch(sid):
            raise MalformedRequest("MessageSid is not a Twilio message id")
        account = _field(payload, "AccountSid")
        if account and not _ACCOUNT_SID.fullmatch(account):
            raise MalformedRequest("AccountSid is not a Twilio account id")
        if not sender:
            raise MalformedRequest("From is missing")
        channel, address = _address(sender)
        if not address:
            raise MalformedRequest("From has no address")
        if not _PHONE.fullmatch(address):
            raise MalformedRequest("From is not a phone number")
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

    def send(
        self,
        message: OutboundMessage,
        *,
        to: Recipient,
        account: ProviderAccount | None = None,
    ) -> SendReceipt:
        if account is None:
            raise SendFailed(
                "Twilio sending is not configured for this organization",
                code="config",
                retryable=False,
            )
        if len(message.text) > self.max_text_length:
            raise SendFailed(
                f"longer than Twilio's {self.max_text_length} characters: split it first",
                code="too_long",
                retryable=False,
            )
        whatsapp = to.channel == "whatsapp"
        # One Twilio number serves both: "whatsapp:+1..." for WhatsApp, "+1..." for SMS.
        sender = account.sender if whatsapp else account.sender.removeprefix("whatsapp:")
        template_sid = message.template_sid if isinstance(message, TemplateMessage) else None
        sent = self._sender.send(
            account_sid=account.account_id,
            auth_token=account.secret,
            from_=sender,
            to=f"whatsapp:{to.address}" if whatsapp else to.address,
            body=None if template_sid else message.text,
            content_sid=template_sid,
            status_callback=self._status_url(to.org_slug, message.message_id),
        )
        return SendReceipt(provider_message_id=sent.sid, status=sent.status)

    def _status_url(self, org_slug: str, message_id: int | None) -> str | None:
        if not self._base_url or message_id is None:
            return None
        return f"{self._base_url}/channels/twilio/{org_slug}/status?m={message_id}"


# The status report's old name (it was Twilio's alone).
StatusCallback = StatusReport


def parse_status(form: Mapping[str, Any], query: Mapping[str, Any]) -> StatusReport:
    sid = _field(form, "MessageSid") or _field(form, "SmsSid")
    status = (_field(form, "MessageStatus") or _field(form, "SmsStatus")).lower()
    if not sid:
        raise MalformedRequest("MessageSid is missing")
    if not _MESSAGE_SID.fullmatch(sid):
        raise MalformedRequest("MessageSid is not a Twilio message id")
    if status not in KNOWN_STATUSES:
        raise MalformedRequest(f"unknown MessageStatus {status[:30]!r}")
    raw_id = query.get("m")
    our_id = int(raw_id) if isinstance(raw_id, str) and raw_id.isdigit() else None
    return StatusReport(sid, status, _field(form, "ErrorCode") or None, our_id)

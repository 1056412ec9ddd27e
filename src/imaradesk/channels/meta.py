"""WhatsApp through Meta's Cloud API: webhooks in, the Graph API out.

Inbound, Meta POSTs JSON to the webhook: ``entry[].changes[].value`` carries ``messages`` (what
customers wrote) and ``statuses`` (what became of ours), several of each per request. The body
is signed: ``X-Hub-Signature-256`` is ``sha256=`` and the hex HMAC-SHA256 of the raw body under
the app secret, checked before anything is parsed.

Who wrote: since 2026 Meta sends a business-scoped user id (BSUID, ``from_user_id``, e.g.
``KE.1502576394655843``; a parent BSUID has ``ENT`` after the country) on every message and the
phone (``from``) only while the user has not hidden it behind a username. The customer's
address is the BSUID when there is one, else the phone; the username is only ever a name.

Outbound, one ``POST /{version}/{phone_number_id}/messages`` per message with the access token
as bearer, to the phone when we have it and to the BSUID (``recipient``) otherwise. Each call is
one request: retrying is delivery's, as for every channel.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import requests

from imaradesk.channels.base import (
    UNCERTAIN,
    ApprovedTemplate,
    ChannelCapabilities,
    DeliveryMode,
    FetchedMedia,
    MalformedRequest,
    MediaTooLarge,
    ProviderAccount,
    Recipient,
    SendFailed,
    SendReceipt,
    SignatureInvalid,
    StatusReport,
    TemplateMessage,
)
from imaradesk.channels.messages import (
    IdentityChange,
    IdentityLink,
    InboundMessage,
    Media,
    OutboundMessage,
    Reaction,
)

CONVERSATION_CHANNEL = "whatsapp_cloud"
MAX_TEXT = 4096
MAX_INTERACTIVE_BODY = 1024
MAX_BUTTON_TITLE, MAX_ROW_TITLE, MAX_ROW_DESCRIPTION, MAX_LIST_ROWS = 20, 24, 72, 10
SERVICE_WINDOW = timedelta(hours=24)
_BSUID = re.compile(r"[A-Z]{2}\.(?:ENT\.)?[A-Za-z0-9]{1,128}")
_PHONE = re.compile(r"[0-9]{6,20}")
# Meta's message ids are "wamid." and base64: anything else in that field is not Meta's.
_WAMID = re.compile(r"wamid\.[A-Za-z0-9+/=_-]{10,200}")
# Meta's template names are lower-case letters, digits and underscores; languages "en", "en_US".
_TEMPLATE_NAME = re.compile(r"[a-z0-9_]{1,512}")
_TEMPLATE_LANGUAGE = re.compile(r"[a-z]{2,3}(?:_[A-Z]{2})?")
_MAX_TEMPLATE_PAGES = 50
_MEDIA_ID = re.compile(r"[0-9]{1,32}")
# Where Meta serves customers' media from (lookaside.fbsbx.com today).
_MEDIA_HOSTS = ("fbsbx.com", "whatsapp.net", "fbcdn.net")
_TYPED_OPTION = re.compile(r"[0-9]{1,3}|[A-Za-z]{1,16}")
_MEDIA_TYPES = ("image", "audio", "video", "document", "sticker")
# Errors that waiting may cure: throttling (4, 80007, 130429, 131056) and Meta's own trouble.
_RETRYABLE_ERRORS = frozenset({1, 2, 4, 80007, 130429, 131000, 131016, 131056})
# Our message's id, sent with it and echoed in its status reports.
_OPAQUE_PREFIX = "imaradesk:"
_OPAQUE = re.compile(r"imaradesk:([0-9]{1,18})")
# Seconds a read receipt may take (sent before the turn, which must not wait on it for long).
_READ_RECEIPT_TIMEOUT = 3.0
# Meta's statuses as ours (channels.base orders them; "failed" never overwrites "delivered").
_STATUSES = {"sent": "sent", "delivered": "delivered", "read": "read", "failed": "failed"}


def verify_signature(*, app_secret: str, body: bytes, header: str | None) -> None:
    """Raise SignatureInvalid unless ``header`` is Meta's signature of ``body``."""
    if not header or not header.startswith("sha256="):
        raise SignatureInvalid("missing X-Hub-Signature-256")
    expected = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, header[len("sha256=") :].strip().lower()):
        raise SignatureInvalid("X-Hub-Signature-256 does not match the body")


def is_bsuid(address: str) -> bool:
    return bool(_BSUID.fullmatch(address))


class MetaCloudChannel:
    name = "meta"
    max_text_length = MAX_TEXT
    capabilities = ChannelCapabilities(
        delivery=DeliveryMode.PUSH,
        serves=(CONVERSATION_CHANNEL,),
        service_windows=((CONVERSATION_CHANNEL, SERVICE_WINDOW),),
    )

    def __init__(
        self,
        *,
        graph_base_url: str = "https://graph.facebook.com",
        graph_version: str = "v23.0",
        timeout: float = 10.0,
    ) -> None:
        self._base = graph_base_url.rstrip("/")
        self._version = graph_version
        self._timeout = timeout

    # -- inbound -----------------------------------------------------------------------------

    def parse(self, payload: Any, *, org_slug: str, received_at: datetime) -> list[InboundMessage]:
        """Every customer message of a webhook body, in order (statuses: ``parse_statuses``).

        Raises:
            MalformedRequest: the body is not a WhatsApp Business Account notification, or a
                message has no usable id or sender.
        """
        messages: list[InboundMessage] = []
        for value in _values(payload):
            names = _profile_names(value.get("contacts"))
            metadata = value.get("metadata")
            number = metadata.get("phone_number_id") if isinstance(metadata, dict) else None
            for raw in _list(value.get("messages")):
                message = _inbound(raw, org_slug=org_slug, received_at=received_at, names=names)
                if message is not None:
                    # The business number written to: the web layer keeps only the org's own.
                    messages.append(replace(message, recipient_id=str(number) if number else None))
        return messages

    def parse_events(
        self, payload: Any, *, phone_number_id: str | None
    ) -> list[IdentityLink | IdentityChange | Reaction]:
        """What the records must learn before the turns run: a sender's two identifiers, a
        changed phone number or user id (``system`` messages), reactions. Only those written
        to ``phone_number_id``: an app may serve several businesses' numbers."""
        events: list[IdentityLink | IdentityChange | Reaction] = []
        for value in _values(payload):
            metadata = value.get("metadata")
            number = metadata.get("phone_number_id") if isinstance(metadata, dict) else None
            if phone_number_id is None or str(number) != phone_number_id:
                continue
            for raw in _list(value.get("messages")):
                if isinstance(raw, dict):
                    events.extend(_events(raw))
        return events

    def parse_statuses(self, payload: Any) -> list[StatusReport]:
        statuses: list[StatusReport] = []
        for value in _values(payload):
            for raw in _list(value.get("statuses")):
                if not isinstance(raw, dict):
                    raise MalformedRequest("a status must be an object")
                wamid, status = raw.get("id"), raw.get("status")
                if not isinstance(wamid, str) or not _WAMID.fullmatch(wamid):
                    raise MalformedRequest("a status has no WhatsApp message id")
                if status not in _STATUSES:
                    continue  # e.g. "deleted", "warning": nothing of ours to move
                errors = _list(raw.get("errors"))
                code = errors[0].get("code") if errors and isinstance(errors[0], dict) else None
                pricing = raw.get("pricing")
                category = pricing.get("category") if isinstance(pricing, dict) else None
                statuses.append(
                    StatusReport(
                        wamid,
                        _STATUSES[status],
                        str(code) if code else None,
                        _our_message_id(raw.get("biz_opaque_callback_data")),
                        pricing_category=str(category)[:32] if category else None,
                    )
                )
        return statuses

    def render(self, replies: Sequence[OutboundMessage], **_: Any) -> dict[str, Any]:
        # Meta reads nothing from the webhook's answer: replies go out through the Graph API.
        return {}

    # -- outbound ----------------------------------------------------------------------------

    def send(
        self,
        message: OutboundMessage,
        *,
        to: Recipient,
        account: ProviderAccount | None = None,
    ) -> SendReceipt:
        """Send one message through the Graph API.

        Raises:
            SendFailed: Meta refused it (``code`` is Meta's error code) or could not be reached.
        """
        if account is None:
            raise SendFailed(
                "the WhatsApp Cloud API is not configured for this organization",
                code="config",
                retryable=False,
            )
        if len(message.text) > MAX_TEXT and not isinstance(message, TemplateMessage):
            # Delivery splits before sending: a longer text is a caller's mistake, not Meta's.
            raise SendFailed(f"longer than {MAX_TEXT} characters", code="too_long", retryable=False)
        body: dict[str, Any] = {"messaging_product": "whatsapp", "recipient_type": "individual"}
        if is_bsuid(to.address):
            body["recipient"] = to.address
        else:
            body["to"] = to.address
        if isinstance(message, TemplateMessage):
            name, _, language = message.template_sid.partition(":")
            body |= {
                "type": "template",
                "template": {"name": name, "language": {"code": language or "en"}},
            }
        elif message.options and len(message.text) <= MAX_INTERACTIVE_BODY:
            body |= {"type": "interactive", "interactive": _interactive(message)}
        else:
            body |= {"type": "text", "text": {"body": message.text, "preview_url": False}}
        if message.message_id is not None:
            # Meta echoes it in the message's status reports: a send whose answer was lost (a
            # timeout, a crash) is recognised as sent when its first status arrives.
            body["biz_opaque_callback_data"] = f"{_OPAQUE_PREFIX}{message.message_id}"
        answer = self._post(account, body, uncertain_on_timeout=True)
        sent = _list(answer.get("messages"))
        wamid = sent[0].get("id") if sent and isinstance(sent[0], dict) else None
        if not isinstance(wamid, str):
            raise SendFailed("the Graph API answered without a message id", code="protocol")
        return SendReceipt(provider_message_id=wamid, status="sent")

    def mark_read(self, account: ProviderAccount, provider_message_id: str) -> None:
        """Blue ticks on the customer's message, and the typing indicator until our reply (or
        25 seconds) comes."""
        self._post(
            account,
            {
                "messaging_product": "whatsapp",
                "status": "read",
                "message_id": provider_message_id,
                "typing_indicator": {"type": "text"},
            },
            # A courtesy before the turn: a slow Graph API must not hold the answer back.
            timeout=min(self._timeout, _READ_RECEIPT_TIMEOUT),
        )

    def approved_templates(self, *, waba_id: str, access_token: str) -> list[ApprovedTemplate]:
        """The business account's templates that Meta approved, every page of them.

        Raises:
            SendFailed: the Graph API refused the listing or could not be reached.
        """
        url: str | None = f"{self._base}/{self._version}/{waba_id}/message_templates"
        params: dict[str, str] | None = {
            "fields": "name,language,status,category,components",
            "limit": "100",
        }
        found: list[ApprovedTemplate] = []
        for _page in range(_MAX_TEMPLATE_PAGES):
            if url is None:
                break
            answer = self._call("GET", url, access_token, params=params)
            found.extend(_approved(answer.get("data")))
            paging = answer.get("paging") if isinstance(answer.get("paging"), dict) else {}
            following = paging.get("next") if isinstance(paging, dict) else None
            # Only pages of the configured Graph API: the token goes with every request.
            url = (
                following
                if isinstance(following, str) and following.startswith(self._base + "/")
                else None
            )
            params = None  # the next URL carries them
        return found

    def fetch_media(self, media_id: str, *, access_token: str, max_bytes: int) -> FetchedMedia:
        """The file behind a customer's media id: its URL from the Graph API, then the file
        (both need the token). The URL must be Meta's media host or the configured Graph API
        (a proxy, a test server): the token is sent to nobody else.

        Raises:
            MediaTooLarge: Meta says, or the download shows, that it is over ``max_bytes``.
            SendFailed: refused, unreachable, or a URL we do not send the token to.
        """
        if not _MEDIA_ID.fullmatch(media_id):
            raise SendFailed("not a Meta media id", code="protocol", retryable=False)
        about = self._call("GET", f"{self._base}/{self._version}/{media_id}", access_token)
        url, size = about.get("url"), about.get("file_size")
        if isinstance(size, int) and size > max_bytes:
            raise MediaTooLarge(f"{size} bytes, over {max_bytes}")
        if not isinstance(url, str) or not self._trusted_media_url(url):
            raise SendFailed("the media URL is not Meta's", code="protocol", retryable=False)
        try:
            with requests.get(
                url,
                headers={"Authorization": f"Bearer {access_token}"},
                timeout=self._timeout,
                stream=True,
                allow_redirects=False,
            ) as response:
                if response.status_code != 200:
                    raise SendFailed(
                        f"the media download answered {response.status_code}",
                        code=str(response.status_code),
                        retryable=response.status_code >= 500,
                    )
                data = bytearray()
                for chunk in response.iter_content(64 * 1024):
                    data.extend(chunk)
                    if len(data) > max_bytes:
                        raise MediaTooLarge(f"over {max_bytes} bytes")
                mime = str(about.get("mime_type") or response.headers.get("Content-Type") or "")
        except requests.RequestException as e:
            raise SendFailed(
                f"the media download failed: {type(e).__name__}", code="network"
            ) from e
        return FetchedMedia(
            mime.split(";")[0].strip()[:100] or "application/octet-stream", bytes(data)
        )

    def _trusted_media_url(self, url: str) -> bool:
        if url.startswith(self._base + "/"):
            return True
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        return parts.scheme == "https" and any(
            host == h or host.endswith("." + h) for h in _MEDIA_HOSTS
        )

    def _post(
        self,
        account: ProviderAccount,
        body: dict[str, Any],
        *,
        timeout: float | None = None,
        uncertain_on_timeout: bool = False,
    ) -> dict[str, Any]:
        url = f"{self._base}/{self._version}/{account.account_id}/messages"
        return self._call(
            "POST",
            url,
            account.secret,
            body=body,
            timeout=timeout,
            uncertain_on_timeout=uncertain_on_timeout,
        )

    def _call(
        self,
        method: str,
        url: str,
        token: str,
        *,
        body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
        timeout: float | None = None,
        uncertain_on_timeout: bool = False,
    ) -> dict[str, Any]:
        try:
            response = requests.request(
                method,
                url,
                json=body,
                params=params,
                headers={"Authorization": f"Bearer {token}"},
                timeout=timeout or self._timeout,
            )
        except requests.ReadTimeout as e:
            if uncertain_on_timeout:
                # Sent, never answered: Meta may have taken it. Sending it again now would
                # show the customer the message twice.
                raise SendFailed(
                    "the Graph API did not answer in time", code=UNCERTAIN, retryable=False
                ) from e
            raise SendFailed("the Graph API did not answer in time", code="network") from e
        except requests.RequestException as e:
            raise SendFailed(
                f"the Graph API is unreachable: {type(e).__name__}", code="network"
            ) from e
        try:
            parsed = response.json()
        except ValueError:
            parsed = None
        answer: dict[str, Any] = parsed if isinstance(parsed, dict) else {}
        if response.status_code >= 400 or "error" in answer:
            found = answer.get("error")
            error: dict[str, Any] = found if isinstance(found, dict) else {}
            code = error.get("code")
            raise SendFailed(
                f"the Graph API answered {response.status_code}: {error.get('message', '')[:200]}",
                code=str(code or response.status_code),
                retryable=response.status_code >= 500 or code in _RETRYABLE_ERRORS,
            )
        return answer


def _our_message_id(opaque: Any) -> int | None:
    if isinstance(opaque, str):
        found = _OPAQUE.fullmatch(opaque)
        if found:
            return int(found.group(1))
    return None


def _approved(data: Any) -> list[ApprovedTemplate]:
    approved: list[ApprovedTemplate] = []
    for raw in data if isinstance(data, list) else []:
        if not isinstance(raw, dict) or raw.get("status") != "APPROVED":
            continue
        name, language = raw.get("name"), raw.get("language")
        if not (isinstance(name, str) and _TEMPLATE_NAME.fullmatch(name)):
            continue
        if not (isinstance(language, str) and _TEMPLATE_LANGUAGE.fullmatch(language)):
            continue
        components = raw.get("components")
        parts: list[Any] = components if isinstance(components, list) else []
        body = next(
            (
                str(c.get("text") or "")
                for c in parts
                if isinstance(c, dict) and c.get("type") == "BODY"
            ),
            "",
        )
        category = raw.get("category")
        approved.append(ApprovedTemplate(name, language, body, str(category) if category else None))
    return approved


def _interactive(message: OutboundMessage) -> dict[str, Any]:
    """Up to 3 short options as reply buttons, else a list (Meta's limits: button titles 20
    characters, row titles 24, descriptions 72, 10 rows). The text keeps the numbered choices,
    so what the customer reads does not depend on the titles' cuts."""
    options = message.options[:MAX_LIST_ROWS]
    if len(options) <= 3 and all(len(o.title) <= MAX_BUTTON_TITLE for o in options):
        buttons = [{"type": "reply", "reply": {"id": o.id, "title": o.title}} for o in options]
        return {"type": "button", "body": {"text": message.text}, "action": {"buttons": buttons}}
    rows = [
        {
            "id": o.id,
            "title": _cut(f"{o.id}. {o.title}" if o.id.isdigit() else o.title, MAX_ROW_TITLE),
            "description": _cut(o.title, MAX_ROW_DESCRIPTION),
        }
        for o in options
    ]
    return {
        "type": "list",
        "body": {"text": message.text},
        # Language-neutral: the adapter does not know the customer's language.
        "action": {"button": f"1-{len(rows)}", "sections": [{"rows": rows}]},
    }


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _values(payload: Any) -> Iterator[dict[str, Any]]:
    if not isinstance(payload, dict) or payload.get("object") != "whatsapp_business_account":
        raise MalformedRequest("the body is not a WhatsApp Business Account notification")
    for entry in _list(payload.get("entry")):
        if not isinstance(entry, dict):
            raise MalformedRequest("an entry must be an object")
        for change in _list(entry.get("changes")):
            if not isinstance(change, dict) or not isinstance(change.get("value"), dict):
                raise MalformedRequest("a change must carry a value object")
            if change.get("field") == "messages":
                yield change["value"]


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise MalformedRequest("expected a list in the notification")
    return value


def _profile_names(contacts: Any) -> dict[str, str]:
    """The name to show for each sender (their profile name, or their username)."""
    names: dict[str, str] = {}
    for contact in _list(contacts):
        if not isinstance(contact, dict):
            continue
        found = contact.get("profile")
        profile: dict[str, Any] = found if isinstance(found, dict) else {}
        name = profile.get("name") or profile.get("username")
        if isinstance(name, str) and name.strip():
            for key in ("user_id", "wa_id"):
                if isinstance(contact.get(key), str):
                    names[contact[key]] = name.strip()[:200]
    return names


def _sender(raw: dict[str, Any]) -> tuple[str, str | None]:
    """The customer's address (their BSUID when there is one) and their other identifier."""
    bsuid, phone = _bsuid(raw.get("from_user_id")), _phone(raw.get("from"))
    if bsuid:
        return bsuid, phone
    if phone:
        return phone, None
    raise MalformedRequest("a message has neither a business-scoped user id nor a phone number")


def _events(raw: dict[str, Any]) -> list[IdentityLink | IdentityChange | Reaction]:
    kind, found = raw.get("type"), raw.get(str(raw.get("type")))
    part: dict[str, Any] = found if isinstance(found, dict) else {}
    bsuid, phone = _bsuid(raw.get("from_user_id")), _phone(raw.get("from"))
    events: list[IdentityLink | IdentityChange | Reaction] = []
    if kind == "system":
        change = part.get("type")
        if change == "user_changed_number":
            new_phone = _phone(part.get("wa_id"))
            if phone and new_phone and new_phone != phone:
                events.append(IdentityChange(CONVERSATION_CHANNEL, phone, new_phone))
        elif change == "user_changed_user_id":
            new_bsuid = _bsuid(part.get("user_id"))
            if bsuid and new_bsuid and new_bsuid != bsuid:
                events.append(IdentityChange(CONVERSATION_CHANNEL, bsuid, new_bsuid))
        return events
    if bsuid and phone:
        events.append(IdentityLink(CONVERSATION_CHANNEL, address=bsuid, alias=phone))
    if kind == "reaction" and (bsuid or phone):
        target, emoji = part.get("message_id"), part.get("emoji")
        if isinstance(target, str) and _WAMID.fullmatch(target):
            taken_back = not isinstance(emoji, str) or not emoji
            events.append(
                Reaction(
                    CONVERSATION_CHANNEL,
                    sender_id=str(bsuid or phone),
                    provider_message_id=target,
                    emoji=None if taken_back else str(emoji)[:32],
                )
            )
    return events


def _bsuid(value: Any) -> str | None:
    return value if isinstance(value, str) and is_bsuid(value) else None


def _phone(value: Any) -> str | None:
    return value if isinstance(value, str) and _PHONE.fullmatch(value) else None


def _inbound(
    raw: Any, *, org_slug: str, received_at: datetime, names: dict[str, str]
) -> InboundMessage | None:
    if not isinstance(raw, dict):
        raise MalformedRequest("a message must be an object")
    wamid = raw.get("id")
    if not isinstance(wamid, str) or not _WAMID.fullmatch(wamid):
        raise MalformedRequest("a message has no WhatsApp message id")
    kind = raw.get("type")
    if kind in ("system", "reaction", "unsupported", "errors"):
        # Number changes and reactions concern the records, not the conversation; the turn
        # would read them as an empty message.
        return None
    sender, alias = _sender(raw)
    text, button, media = _content(raw, kind)
    return InboundMessage(
        org_slug=org_slug,
        channel=CONVERSATION_CHANNEL,
        sender_id=sender,
        provider_message_id=wamid,
        received_at=received_at,
        text=text,
        profile_name=names.get(sender) or names.get(str(raw.get("from") or "")),
        media=media,
        button_payload=button,
        sender_alias=alias,
    )


def _content(raw: dict[str, Any], kind: Any) -> tuple[str, str | None, tuple[Media, ...]]:
    """The text the bot reads, the chosen option's id, and the media's metadata."""
    text, option, media = _raw_content(raw, kind)
    # JSON may carry lone UTF-16 surrogates ("\ud800"), which no database stores: replaced, so
    # the message is kept rather than lost to an encoding error.
    return text.encode("utf-8", "replace").decode("utf-8"), option, media


def _raw_content(raw: dict[str, Any], kind: Any) -> tuple[str, str | None, tuple[Media, ...]]:
    found = raw.get(kind) if isinstance(kind, str) else None
    part: dict[str, Any] = found if isinstance(found, dict) else {}
    if kind == "text":
        return str(part.get("body") or ""), None, ()
    if kind == "interactive":
        chosen = part.get(part.get("type", ""), {}) if isinstance(part, dict) else {}
        if isinstance(chosen, dict):
            option = _option_id(chosen.get("id"))
            # Our options' ids are what the customer would type ("2", "YES", "agent"): a tap
            # reads the same. Another system's ids on the same number mean nothing to the bot.
            title = str(chosen.get("title") or "")
            text = option if option and _TYPED_OPTION.fullmatch(option) else title
            return text, option, ()
        return "", None, ()
    if kind == "button":
        # A template's quick reply: its payload is the option, its text what the customer saw.
        return str(part.get("text") or ""), _option_id(part.get("payload")), ()
    if kind in _MEDIA_TYPES:
        media_id = part.get("id")
        mime = part.get("mime_type") or "application/octet-stream"
        # Not fetched here: Meta's media URLs need the token, and the organization decides.
        medium = (Media(f"meta-media:{media_id}", str(mime)),) if media_id else ()
        return str(part.get("caption") or ""), None, medium
    if kind == "location":
        label = " ".join(str(part.get(k) or "") for k in ("name", "address")).strip()
        return label or "(location)", None, ()
    if kind == "contacts":
        return "(contact card)", None, ()
    return "", None, ()


def _option_id(value: Any) -> str | None:
    return value[:256] if isinstance(value, str) and value else None

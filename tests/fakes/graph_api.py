"""A small local server that speaks the part of Meta's Graph API the WhatsApp channel uses.

``POST /{version}/{phone_number_id}/messages`` with a bearer token: a message (answered with a
``wamid``) or a read receipt (``{"success": true}``). It checks the token and the number,
refuses what Meta refuses (no recipient, text over 4,096 characters), records what it received,
and can be told to answer the next requests with a Graph API error (e.g. 131047 re-engagement,
130429 rate limit).

``GET /{version}/{media_id}``: a customer's media as Meta describes it (a download URL, its type
and size); ``GET /download/{media_id}`` with the token: the file.

``GET /{version}/{waba_id}/message_templates``: the business account's templates in Meta's
shape (name, language, status, category, components), two to a page with ``paging.next``.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

import requests


@dataclass
class FakeGraphApi:
    phone_number_id: str
    access_token: str
    version: str = "v23.0"
    received: list[dict] = field(default_factory=list)
    read_receipts: list[dict] = field(default_factory=list)
    # (HTTP status, Graph error code) for each of the next requests.
    errors: list[tuple[int, int]] = field(default_factory=list)
    waba_id: str = "102290129340398"
    templates: list[dict] = field(default_factory=list)
    template_page_size: int = 2
    media: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # id: (type, bytes)
    media_downloads: int = 0
    media_url: str | None = None  # a download URL to announce instead of our own
    send_delay: float = 0.0  # seconds each message send takes (a slow Graph API)
    # Where Meta would post each sent message's status report ("sent"), signed with the app's
    # secret and carrying the sender's biz_opaque_callback_data, as Meta does.
    status_webhook: str | None = None
    app_secret: str | None = None
    _server: ThreadingHTTPServer | None = None
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_port}"

    def texts(self) -> list[str]:
        """What the customer read, in order: texts, and the bodies of buttons and lists."""
        read = {"text": lambda m: m["text"]["body"], "interactive": _interactive_body}
        return [read[m["type"]](m) for m in self.received if m.get("type") in read]

    def choices(self) -> list[list[tuple[str, str]]]:
        """The (id, title) options of each interactive message sent."""
        return [_options(m["interactive"]) for m in self.received if m.get("type") == "interactive"]

    def start(self) -> FakeGraphApi:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path, _, query = self.path.partition("?")
                if self.headers.get("Authorization") != f"Bearer {fake.access_token}":
                    return self._error(401, 190, "Invalid OAuth access token")
                media_id = path.rsplit("/", 1)[-1]
                if path == f"/{fake.version}/{media_id}" and media_id in fake.media:
                    mime, data = fake.media[media_id]
                    base = f"http://127.0.0.1:{self.server.server_port}"
                    return self._json(200, {
                        "messaging_product": "whatsapp", "id": media_id, "mime_type": mime,
                        "file_size": len(data), "url": fake.media_url or f"{base}/download/{media_id}",
                    })  # fmt: skip
                if path == f"/download/{media_id}" and media_id in fake.media:
                    mime, data = fake.media[media_id]
                    with fake._lock:
                        fake.media_downloads += 1
                    self.send_response(200)
                    self.send_header("Content-Type", mime)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return None
                if path != f"/{fake.version}/{fake.waba_id}/message_templates":
                    return self._error(400, 100, "Unsupported get request")
                with fake._lock:
                    scripted = fake.errors.pop(0) if fake.errors else None
                if scripted is not None:
                    return self._error(scripted[0], scripted[1], "scripted error")
                after = int(dict(parse_qsl(query)).get("after", "0"))
                size = fake.template_page_size
                page: dict = {"data": fake.templates[after : after + size]}
                if after + size < len(fake.templates):
                    base = f"http://127.0.0.1:{self.server.server_port}{path}"
                    page["paging"] = {"next": f"{base}?limit={size}&after={after + size}"}
                self._json(200, page)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                try:
                    body = json.loads(self.rfile.read(length))
                except ValueError:
                    return self._error(400, 100, "Invalid parameter")
                if self.headers.get("Authorization") != f"Bearer {fake.access_token}":
                    return self._error(401, 190, "Invalid OAuth access token")
                if self.path != f"/{fake.version}/{fake.phone_number_id}/messages":
                    return self._error(400, 100, "Unsupported post request")
                with fake._lock:
                    scripted = fake.errors.pop(0) if fake.errors else None
                if scripted is not None:
                    return self._error(scripted[0], scripted[1], "scripted error")
                if body.get("status") == "read":
                    fake.read_receipts.append(body)
                    return self._json(200, {"success": True})
                if body.get("messaging_product") != "whatsapp":
                    return self._error(400, 100, "messaging_product is required")
                if not (body.get("to") or body.get("recipient")):
                    return self._error(400, 100, "a recipient is required")
                if body.get("type") == "text" and len(body["text"]["body"]) > 4096:
                    return self._error(400, 100, "text body is too long")
                if fake.send_delay:
                    time.sleep(fake.send_delay)
                fake.received.append(body)
                wamid = f"wamid.FAKE{next(fake._ids):020d}"
                if fake.status_webhook and fake.app_secret:
                    threading.Thread(
                        target=fake._report_sent, args=(wamid, body), daemon=True
                    ).start()
                contact = {"input": body.get("to") or body.get("recipient")}
                self._json(200, {
                    "messaging_product": "whatsapp", "contacts": [contact],
                    "messages": [{"id": wamid}],
                })  # fmt: skip

            def _error(self, status: int, code: int, message: str) -> None:
                self._json(
                    status,
                    {"error": {"message": message, "type": "OAuthException", "code": code}},
                )

            def _json(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def _report_sent(self, wamid: str, sent: dict) -> None:
        status = {
            "id": wamid,
            "status": "sent",
            "timestamp": "1764662460",
            "recipient_id": sent.get("to") or sent.get("recipient"),
        }
        if "biz_opaque_callback_data" in sent:
            status["biz_opaque_callback_data"] = sent["biz_opaque_callback_data"]
        value = {
            "messaging_product": "whatsapp",
            "metadata": {
                "display_phone_number": "15550783881",
                "phone_number_id": self.phone_number_id,
            },
            "statuses": [status],
        }
        entry = {"id": self.waba_id, "changes": [{"field": "messages", "value": value}]}
        body = json.dumps({"object": "whatsapp_business_account", "entry": [entry]}).encode()
        assert self.app_secret is not None and self.status_webhook is not None
        digest = hmac.new(self.app_secret.encode(), body, hashlib.sha256).hexdigest()
        headers = {"X-Hub-Signature-256": f"sha256={digest}", "Content-Type": "application/json"}
        # Meta retries a status report the webhook did not take (for days; here for a minute).
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.post(self.status_webhook, data=body, headers=headers, timeout=10).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(1.0)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def _interactive_body(message: dict) -> str:
    return str(message["interactive"]["body"]["text"])


def _options(interactive: dict) -> list[tuple[str, str]]:
    if interactive["type"] == "button":
        return [(b["reply"]["id"], b["reply"]["title"]) for b in interactive["action"]["buttons"]]
    rows = [r for section in interactive["action"]["sections"] for r in section["rows"]]
    return [(r["id"], r["title"]) for r in rows]

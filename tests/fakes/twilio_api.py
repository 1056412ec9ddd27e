"""A small local server that speaks Twilio's Messages API, for agent replies in tests.

It checks HTTP basic auth (account SID and auth token), answers like Twilio (201 with a
message resource), records what it received, and can be told to fail the next requests.
"""

from __future__ import annotations

import base64
import itertools
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs


@dataclass
class FakeTwilioApi:
    account_sid: str
    auth_token: str
    received: list[dict[str, str]] = field(default_factory=list)
    fail_next: int = 0
    _server: ThreadingHTTPServer | None = None
    _sids: itertools.count = field(default_factory=lambda: itertools.count(1))

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_port}"

    def start(self) -> FakeTwilioApi:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                expected = (
                    "Basic "
                    + base64.b64encode(f"{fake.account_sid}:{fake.auth_token}".encode()).decode()
                )
                if self.headers.get("Authorization") != expected:
                    return self._json(
                        401, {"code": 20003, "message": "Authenticate", "status": 401}
                    )
                if self.path != f"/2010-04-01/Accounts/{fake.account_sid}/Messages.json":
                    return self._json(404, {"code": 20404, "message": "Not found", "status": 404})
                if fake.fail_next > 0:
                    fake.fail_next -= 1
                    return self._json(
                        500, {"code": 20500, "message": "Internal Server Error", "status": 500}
                    )
                if (
                    not form.get("To")
                    or not form.get("From")
                    or not (form.get("Body") or form.get("ContentSid"))
                ):
                    return self._json(
                        400, {"code": 21602, "message": "Message body is required", "status": 400}
                    )
                if len(form.get("Body", "")) > 1600:
                    return self._json(
                        400,
                        {"code": 21617, "message": "Body exceeds 1600 characters", "status": 400},
                    )
                fake.received.append(form)
                sid = f"SM{next(fake._sids):032d}"
                self._json(201, {
                    "sid": sid, "account_sid": fake.account_sid, "to": form["To"], "from": form["From"],
                    "body": form.get("Body", ""), "status": "queued", "num_segments": "1",
                    "date_created": "Mon, 02 Nov 2026 09:30:00 +0000", "uri": f"{self.path[:-5]}/{sid}.json",
                })  # fmt: skip

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

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

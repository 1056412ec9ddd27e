"""A small loopback HTTP server that speaks Rasa's ``POST /model/parse``, for the tests that need
replies a real Rasa server will not give on demand (slow, broken, malformed)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def parse_body(text: str, intent: str | None, confidence: float) -> dict[str, Any]:
    """The JSON Rasa 3.6 answers for one parsed message (shape as served by ``rasa run``)."""
    ranking = [] if intent is None else [{"name": intent, "confidence": confidence}]
    ranking.append({"name": "nlu_fallback", "confidence": round(1 - confidence, 4)})
    return {
        "text": text,
        "intent": {"name": intent, "confidence": confidence} if intent else None,
        "entities": [],
        "text_tokens": [[0, len(text)]],
        "intent_ranking": ranking,
        "response_selector": {"all_retrieval_intents": [], "default": {"response": {}}},
    }


@dataclass
class FakeRasa:
    """What the server answers: ``intents`` maps a text to (intent, confidence); ``mode`` is
    "ok", "slow", "drip", "error", "not_json", "huge" or a raw JSON value to send as is."""

    intents: dict[str, tuple[str | None, float]] = field(default_factory=dict)
    mode: Any = "ok"
    delay: float = 2.0
    token: str | None = None
    received: list[dict[str, Any]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    url: str = ""

    def reply(self, handler: BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
        text = str(body.get("text", ""))
        intent, confidence = self.intents.get(text, (None, 0.0))
        payload: Any = parse_body(text, intent, confidence)
        mode = self.mode
        if mode == "slow":
            time.sleep(self.delay)
        if mode == "error":
            handler.send_response(500)
            handler.send_header("Content-Type", "application/json")
            handler.end_headers()
            handler.wfile.write(b'{"status": "failure", "message": "boom"}')
            return
        if mode == "not_json":
            data = b"<html>502 Bad Gateway</html>"
        elif mode == "huge":
            data = json.dumps({**payload, "padding": "x" * (2 * 1024 * 1024)}).encode()
        elif mode in ("ok", "slow", "drip"):
            data = json.dumps(payload).encode()
        else:
            data = json.dumps(mode).encode()
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        if mode == "drip":
            # Headers at once, then the body a byte at a time: each read is quick, the whole slow.
            for i in range(len(data)):
                handler.wfile.write(data[i : i + 1])
                handler.wfile.flush()
                time.sleep(self.delay / max(len(data), 1))
            return
        handler.wfile.write(data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request: object, client_address: object) -> None:
        # A client that gave up (the timeout tests) leaves a broken pipe behind: expected.
        pass


@contextmanager
def serve(fake: FakeRasa) -> Iterator[FakeRasa]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            fake.paths.append(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            fake.received.append(body)
            if fake.token is not None and self.path != f"/model/parse?token={fake.token}":
                self.send_response(401)
                self.end_headers()
                return
            if not self.path.startswith("/model/parse"):
                self.send_response(404)
                self.end_headers()
                return
            fake.reply(self, body)

        def log_message(self, *args: object) -> None:
            pass

    server = _Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_port}"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

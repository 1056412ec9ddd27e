"""Small loopback servers that speak the HTTP protocols of Gemini, OpenAI and Anthropic.

Each checks the API key the way its provider does, answers with the provider's JSON (usage
fields included), and records every request, so a test can see exactly what would have left
the machine. What it answers is programmable: a default behaviour, and a queue of behaviours
for the next requests (an HTTP error, a body that is not JSON, or a sleep past the client's
timeout before answering).

The real SDKs are pointed at them with their base URL: ``FakeGemini.base_url`` for
google-genai, ``FakeOpenAI.base_url`` (ending in ``/v1``) for openai, ``FakeAnthropic.base_url``
for anthropic.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# -- behaviours -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """Answer with ``text``; tokens default to about one per four characters, as reported."""

    text: str
    input_tokens: int | None = None
    output_tokens: int | None = None


@dataclass(frozen=True)
class Fail:
    """Answer with the provider's error JSON and this status (401, 429, 500, ...)."""

    status: int
    message: str = "The server had an error while processing your request."


@dataclass(frozen=True)
class Malformed:
    """Answer 200 with a body that is not the protocol's JSON."""

    body: str = "<html><body>502 Bad Gateway</body></html>"


@dataclass(frozen=True)
class Sleep:
    """Wait ``seconds`` before answering (or until the server stops), then behave as ``then``."""

    seconds: float
    then: Answer | Fail | Malformed = Answer("too late [1]")


Behaviour = Answer | Fail | Malformed | Sleep


@dataclass(frozen=True)
class Recorded:
    path: str
    headers: dict[str, str]
    raw: str
    body: Any


@dataclass(frozen=True)
class Reported:
    """Usage this server reported for one answered request."""

    input_tokens: int
    output_tokens: int


def _tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / 4))


# -- the server -----------------------------------------------------------------------------


@dataclass
class FakeLLMServer:
    api_key: str = "test-key"
    default: Behaviour = field(default_factory=lambda: Answer("Thank you for asking [1]."))
    requests: list[Recorded] = field(default_factory=list)
    reported: list[Reported] = field(default_factory=list)
    _queue: deque[Behaviour] = field(default_factory=deque)
    _server: ThreadingHTTPServer | None = None
    _stopping: threading.Event = field(default_factory=threading.Event)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    # Called with each accepted request before it is answered, in the server's thread.
    on_request: Callable[[Recorded], None] | None = None

    name = "fake"

    # -- programming it

    def answer(self, text: str, **tokens: int) -> None:
        """Answer every request with ``text`` from now on."""
        self.default = Answer(text, **tokens)

    def then(self, *behaviours: Behaviour) -> None:
        """Behave so for the next requests, in order, then as the default again."""
        with self._lock:
            self._queue.extend(behaviours)

    def always(self, behaviour: Behaviour) -> None:
        self.default = behaviour

    def _next(self) -> Behaviour:
        with self._lock:
            return self._queue.popleft() if self._queue else self.default

    # -- running it

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the server first"
        return f"http://127.0.0.1:{self._server.server_port}"

    @property
    def base_url(self) -> str:
        return self.url

    def start(self) -> FakeLLMServer:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length).decode("utf-8", "replace")
                path = self.path.split("?", 1)[0]
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                headers = {k.lower(): v for k, v in self.headers.items()}
                if not fake.matches(path):
                    return self._send(404, fake.error_body(404, f"no route {path}"))
                if not fake.authorised(headers):
                    return self._send(401, fake.error_body(401, "Invalid API key provided."))
                recorded = Recorded(path, headers, raw, body)
                with fake._lock:
                    fake.requests.append(recorded)
                if fake.on_request is not None:
                    fake.on_request(recorded)
                behaviour = fake._next()
                if isinstance(behaviour, Sleep):
                    if fake._stopping.wait(behaviour.seconds):
                        return  # stopped while sleeping: the client is long gone
                    behaviour = behaviour.then
                if isinstance(behaviour, Fail):
                    return self._send(
                        behaviour.status, fake.error_body(behaviour.status, behaviour.message)
                    )
                if isinstance(behaviour, Malformed):
                    return self._send(200, behaviour.body, content_type="text/html")
                assert isinstance(behaviour, Answer)
                used = Reported(
                    behaviour.input_tokens or _tokens(raw),
                    behaviour.output_tokens or _tokens(behaviour.text),
                )
                with fake._lock:
                    fake.reported.append(used)
                self._send(200, fake.success_body(body, behaviour.text, used, next(fake._ids)))

            def _send(
                self, status: int, body: object, *, content_type: str = "application/json"
            ) -> None:
                data = (body if isinstance(body, str) else json.dumps(body)).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(data)))
                    if status == 429:
                        self.send_header("Retry-After", "1")
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (its timeout): nothing to answer

            def log_message(self, *_args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # -- the protocol (each provider's subclass)

    def matches(self, path: str) -> bool:
        raise NotImplementedError

    def authorised(self, headers: dict[str, str]) -> bool:
        raise NotImplementedError

    def success_body(self, request: Any, text: str, used: Reported, n: int) -> dict:
        raise NotImplementedError

    def error_body(self, status: int, message: str) -> dict:
        raise NotImplementedError


_GOOGLE_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


@dataclass
class FakeGemini(FakeLLMServer):
    """``POST /v1beta/models/{model}:generateContent`` (or ``/v1/``), key in x-goog-api-key."""

    name = "gemini"

    def matches(self, path: str) -> bool:
        return re.fullmatch(r"/v1(beta)?/models/[\w.\-]+:generateContent", path) is not None

    def authorised(self, headers: dict[str, str]) -> bool:
        return headers.get("x-goog-api-key") == self.api_key

    def success_body(self, request: Any, text: str, used: Reported, n: int) -> dict:
        model = re.search(r"models/([\w.\-]+):", self.requests[-1].path)
        return {
            "candidates": [
                {
                    "content": {"parts": [{"text": text}], "role": "model"},
                    "finishReason": "STOP",
                    "index": 0,
                }
            ],
            "usageMetadata": {
                "promptTokenCount": used.input_tokens,
                "candidatesTokenCount": used.output_tokens,
                "totalTokenCount": used.input_tokens + used.output_tokens,
                "promptTokensDetails": [{"modality": "TEXT", "tokenCount": used.input_tokens}],
            },
            "modelVersion": model.group(1) if model else "gemini",
            "responseId": f"resp-{n}",
        }

    def error_body(self, status: int, message: str) -> dict:
        return {
            "error": {
                "code": status,
                "message": message,
                "status": _GOOGLE_STATUS.get(status, "UNKNOWN"),
            }
        }


@dataclass
class FakeOpenAI(FakeLLMServer):
    """``POST /v1/chat/completions``, key as a bearer token."""

    name = "openai"

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def matches(self, path: str) -> bool:
        return path == "/v1/chat/completions"

    def authorised(self, headers: dict[str, str]) -> bool:
        return headers.get("authorization") == f"Bearer {self.api_key}"

    def success_body(self, request: Any, text: str, used: Reported, n: int) -> dict:
        return {
            "id": f"chatcmpl-{n:024d}",
            "object": "chat.completion",
            "created": 1793611800,
            "model": (request or {}).get("model", "gpt-4o-mini"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text, "refusal": None},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": used.input_tokens,
                "completion_tokens": used.output_tokens,
                "total_tokens": used.input_tokens + used.output_tokens,
            },
            "system_fingerprint": "fp_fake",
        }

    def error_body(self, status: int, message: str) -> dict:
        kinds = {401: ("invalid_request_error", "invalid_api_key"), 429: ("requests", None)}
        kind, code = kinds.get(status, ("server_error", None))
        return {"error": {"message": message, "type": kind, "param": None, "code": code}}


_ANTHROPIC_ERRORS = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


@dataclass
class FakeAnthropic(FakeLLMServer):
    """``POST /v1/messages``, an anthropic-version header and the key required: x-api-key, or
    a bearer token as the installed SDK sends it."""

    name = "anthropic"

    def matches(self, path: str) -> bool:
        return path == "/v1/messages"

    def authorised(self, headers: dict[str, str]) -> bool:
        keys = (headers.get("x-api-key"), headers.get("authorization"))
        return "anthropic-version" in headers and (
            keys[0] == self.api_key or keys[1] == f"Bearer {self.api_key}"
        )

    def success_body(self, request: Any, text: str, used: Reported, n: int) -> dict:
        return {
            "id": f"msg_{n:024d}",
            "type": "message",
            "role": "assistant",
            "model": (request or {}).get("model", "claude-haiku-4-5"),
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": used.input_tokens, "output_tokens": used.output_tokens},
        }

    def error_body(self, status: int, message: str) -> dict:
        return {
            "type": "error",
            "error": {"type": _ANTHROPIC_ERRORS.get(status, "api_error"), "message": message},
            "request_id": "req_fake",
        }


FAKES: dict[str, type[FakeLLMServer]] = {
    "gemini": FakeGemini,
    "openai": FakeOpenAI,
    "anthropic": FakeAnthropic,
}

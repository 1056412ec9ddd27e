"""A Rasa server asked for intents over its HTTP API (``POST /model/parse``).

Rasa is never imported: it needs Python < 3.11 and runs as its own service (``rasa run
--enable-api``). The standard library's HTTP client is enough for one small JSON request, and
the whole call, reading included, is held to one deadline so a slow server cannot stall a turn.
"""

from __future__ import annotations

import json
import math
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from imaradesk.nlu.base import NLUReplyInvalid, NLUResult, NLUUnavailable

MAX_REPLY_BYTES = 1024 * 1024
_CHUNK = 64 * 1024


class RasaNLU:
    """``parse(text)`` through a Rasa server at ``base_url`` (its query, e.g. ``?token=``, kept)."""

    def __init__(self, base_url: str, *, timeout: float = 2.0) -> None:
        parts = urllib.parse.urlsplit(base_url.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        path = parts.path.rstrip("/") + "/model/parse"
        self.url = urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))
        self.timeout = timeout
        # Proxies from the environment would send a loopback or private Rasa elsewhere.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def parse(self, text: str) -> NLUResult:
        return parse_reply(self._post({"text": text}))

    def _post(self, body: dict[str, Any]) -> Any:
        deadline = time.monotonic() + self.timeout
        request = urllib.request.Request(
            self.url,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Accept": "application/json"},
            method="POST",
        )
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                data = _read_before(response, deadline)
        except urllib.error.HTTPError as e:
            raise NLUUnavailable(f"Rasa answered HTTP {e.code}") from e
        except (urllib.error.URLError, OSError) as e:  # refused, reset, DNS, socket timeout
            reason = getattr(e, "reason", e)
            if isinstance(reason, socket.timeout | TimeoutError):
                raise NLUUnavailable(f"Rasa did not answer within {self.timeout} s") from e
            raise NLUUnavailable(f"Rasa is unreachable: {reason}") from e
        try:
            return json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise NLUReplyInvalid("Rasa's reply is not JSON") from e


def _read_before(response: Any, deadline: float) -> bytes:
    """Read the body, refusing one that is too large or still arriving at the deadline."""
    chunks: list[bytes] = []
    size = 0
    while True:
        if time.monotonic() > deadline:
            raise TimeoutError("the reply was still arriving at the deadline")
        chunk = response.read1(_CHUNK) if hasattr(response, "read1") else response.read(_CHUNK)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > MAX_REPLY_BYTES:
            raise NLUReplyInvalid(f"Rasa's reply is larger than {MAX_REPLY_BYTES} bytes")
        chunks.append(chunk)


def _confidence(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise NLUReplyInvalid(f"confidence {value!r} is not a number")
    if not 0.0 <= value <= 1.0:
        raise NLUReplyInvalid(f"confidence {value!r} is not between 0 and 1")
    return float(value)


def parse_reply(body: Any) -> NLUResult:
    """Read Rasa's ``/model/parse`` JSON; a retrieval intent ("faq") is resolved to its
    sub-intent ("faq/ask_fees") when the response selector names one."""
    if not isinstance(body, dict):
        raise NLUReplyInvalid("Rasa's reply is not a JSON object")
    intent = body.get("intent")
    if intent is None or intent == {}:
        return NLUResult(None, 0.0, ())
    if not isinstance(intent, dict):
        raise NLUReplyInvalid("'intent' is not an object")
    name = intent.get("name")
    if name is not None and not isinstance(name, str):
        raise NLUReplyInvalid("'intent.name' is not a string")
    confidence = _confidence(intent.get("confidence", 0.0))
    ranking: list[tuple[str, float]] = []
    raw_ranking = body.get("intent_ranking") or []
    if not isinstance(raw_ranking, list):
        raise NLUReplyInvalid("'intent_ranking' is not a list")
    for item in raw_ranking:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise NLUReplyInvalid("an 'intent_ranking' item has no name")
        ranking.append((item["name"], _confidence(item.get("confidence", 0.0))))
    if name:
        name, confidence = _sub_intent(body.get("response_selector"), name, confidence)
    return NLUResult(name or None, confidence, tuple(ranking))


def _sub_intent(selector: Any, name: str, confidence: float) -> tuple[str, float]:
    if not isinstance(selector, dict):
        return name, confidence
    chosen = selector.get(name)
    if not isinstance(chosen, dict) and name in (selector.get("all_retrieval_intents") or []):
        chosen = selector.get("default")
    response = chosen.get("response") if isinstance(chosen, dict) else None
    if not isinstance(response, dict):
        return name, confidence
    key = response.get("intent_response_key")
    if not isinstance(key, str) or not key.startswith(f"{name}/"):
        return name, confidence
    # Both classifiers must be sure: the intent and which of its sub-intents.
    return key, min(confidence, _confidence(response.get("confidence", 0.0)))

"""Reading JSON from requests without a 500 for input that the standard parser trips on.

``json.loads`` raises RecursionError (not ValueError) for input nested ~1,000 levels deep,
which Flask's ``get_json(silent=True)`` does not catch; and it accepts lone UTF-16 surrogates
("\\ud800"), which no database stores, so the message would be lost at the insert. Here the
first is a parse error (400) and the second is replaced, so the message is kept.
"""

from __future__ import annotations

import json
import re
from typing import Any

from flask.json.provider import DefaultJSONProvider

_SURROGATE = re.compile("[\ud800-\udfff]")


def loads_request_json(data: str | bytes) -> Any:
    """Parse a request body.

    Raises:
        ValueError: not JSON, nested too deeply, or not UTF-8.
    """
    try:
        return _without_surrogates(json.loads(data))
    except RecursionError as e:
        raise ValueError("the JSON is nested too deeply") from e


def _without_surrogates(value: Any) -> Any:
    if isinstance(value, str):
        return (
            value.encode("utf-8", "replace").decode("utf-8") if _SURROGATE.search(value) else value
        )
    if isinstance(value, list):
        return [_without_surrogates(v) for v in value]
    if isinstance(value, dict):
        return {_without_surrogates(k): _without_surrogates(v) for k, v in value.items()}
    return value


class RequestJSONProvider(DefaultJSONProvider):
    """Flask's JSON, reading request bodies as above (``request.get_json`` and the API)."""

    sort_keys = False

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return loads_request_json(s)

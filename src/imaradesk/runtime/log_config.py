"""Structured logging through one redacting processor, for our loggers and everyone else's.

Fields that carry message content or identities are dropped outright; every other string,
the message itself and tracebacks included, goes through the PII redactor, so a phone number
or name that slips into a log line is replaced before the line is written anywhere.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

from imaradesk.pii.recent_names import recent_names
from imaradesk.pii.redactor import Redactor

SENSITIVE_KEYS = frozenset(
    {
        "body", "text", "message_body", "phone", "address", "sender", "sender_id", "from", "to",
        "name", "display_name", "profile_name", "email", "token", "auth_token", "password",
    }
)  # fmt: skip
_redactor = Redactor()


def redact_event(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key, value in list(event.items()):
        if key in SENSITIVE_KEYS:
            event[key] = "[REDACTED]"
        elif isinstance(value, str):
            event[key] = recent_names.redact(_redactor.redact(value).text)
    return event


def configure_logging(
    *, level: int | str = logging.INFO, json: bool = False, stream: TextIO | None = None
) -> None:
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redact_event,
    ]
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    renderer = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)

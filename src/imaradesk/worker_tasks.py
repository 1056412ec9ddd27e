"""The tasks background workers run, by name; shared by the in-process queue and RQ workers."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from imaradesk.services import Services

_services: Services | None = None
_guard = threading.Lock()


def use_services(services: Services) -> None:
    """Let tasks in this process use already built services (the worker preloads them)."""
    global _services
    _services = services


def _current() -> Services:
    global _services
    with _guard:
        if _services is None:
            from imaradesk.services import build_services
            from imaradesk.settings import Settings

            _services = build_services(Settings())
        return _services


def run(services: Services, task: str, arguments: dict[str, Any]) -> None:
    if task == "ingest":
        services.ingestion.run(int(arguments["org_id"]), int(arguments["job_id"]))
    elif task == "turn":
        services.background_turns.run(arguments)
    else:
        raise ValueError(f"unknown background task {task!r}")


def run_task(task: str, arguments: dict[str, Any]) -> None:
    """RQ's entry point (``imaradesk.worker_tasks.run_task``)."""
    run(_current(), task, arguments)

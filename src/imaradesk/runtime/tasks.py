"""The tasks background workers run, by name; shared by the in-process queue and RQ workers.

The dispatcher knows only the small interfaces below, so runtime/ stays below every service it
runs. The RQ entry point, which has to build the services in a fresh worker process, lives with
the wiring (``imaradesk.services.run_task``).
"""

from __future__ import annotations

from typing import Any, Protocol


class Ingests(Protocol):
    def run(self, org_id: int, job_id: int) -> None: ...


class RunsTurns(Protocol):
    def run(self, arguments: dict[str, Any]) -> None: ...


class FetchesMedia(Protocol):
    def run(self, arguments: dict[str, Any]) -> int: ...


class TaskServices(Protocol):
    @property
    def ingestion(self) -> Ingests: ...

    @property
    def background_turns(self) -> RunsTurns: ...

    @property
    def media(self) -> FetchesMedia: ...


def run(services: TaskServices, task: str, arguments: dict[str, Any]) -> None:
    """Run the background task named ``task`` with its JSON-able ``arguments``."""
    if task == "ingest":
        services.ingestion.run(int(arguments["org_id"]), int(arguments["job_id"]))
    elif task == "turn":
        services.background_turns.run(arguments)
    elif task == "media":
        services.media.run(arguments)
    else:
        raise ValueError(f"unknown background task {task!r}")

"""Reading an upload in a child process, with limits on its time and memory.

A document can be made to cost without end: a 450 KB DOCX that unpacks to 150 MB kept a core
busy for minutes while other organizations' uploads waited, and deleting it did not stop the
work. A thread can be neither limited nor cancelled; a process can. Each upload is parsed in
a child forked from a small server process (no model, no threads of the service in it) under
an address-space and CPU limit, watched against a wall-clock deadline, and killed when its
document is deleted. Progress comes back over a pipe.
"""

from __future__ import annotations

import multiprocessing
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from imaradesk.knowledge_index.documents import ParsedDocument, parse_bytes
from imaradesk.knowledge_index.errors import ImportFormatError

_CHECK_CANCEL_EVERY = 1.0  # seconds: a database read each time


class ParseCancelled(Exception):
    """The document was deleted while it was read: the child was stopped."""


@dataclass(frozen=True)
class ParseLimits:
    seconds: float = 120.0
    memory_bytes: int = 1024 * 1024 * 1024


_context: Any = None


def _fork_server() -> Any:
    """The fork server, started on first use with only the parsers imported."""
    global _context
    if _context is None:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(
            ["imaradesk.knowledge_index.documents", "imaradesk.knowledge_index.passages"]
        )
        _context = context
    return _context


def parse_isolated(
    name: str,
    data: bytes,
    *,
    limits: ParseLimits,
    progress: Callable[[int, int], None] | None = None,
    cancelled: Callable[[], bool] = lambda: False,
) -> ParsedDocument:
    """``parse_bytes`` in a child process.

    Raises:
        ImportFormatError: the file cannot be read, or not within the limits.
        ParseCancelled: ``cancelled()`` became true.
    """
    context = _fork_server()
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(
        target=_parse_in_child,
        args=(name, data, limits.memory_bytes, int(limits.seconds) + 1, sender),
        daemon=True,
    )
    child.start()
    sender.close()
    deadline = time.monotonic() + limits.seconds
    next_check = time.monotonic() + _CHECK_CANCEL_EVERY
    try:
        while True:
            if receiver.poll(0.2):
                try:
                    kind, value = receiver.recv()
                except EOFError:
                    child.join(timeout=5)
                    raise ImportFormatError(name, 0, _died(child.exitcode, limits)) from None
                if kind == "progress" and progress is not None:
                    progress(*value)
                elif kind == "done":
                    parsed: ParsedDocument = value
                    return parsed
                elif kind == "refused":
                    raise ImportFormatError(*value)
            now = time.monotonic()
            if now > deadline:
                raise ImportFormatError(
                    name,
                    0,
                    f"reading it took longer than {limits.seconds:g} seconds: split it into "
                    "smaller files",
                )
            if now >= next_check:
                next_check = now + _CHECK_CANCEL_EVERY
                if cancelled():
                    raise ParseCancelled(name)
    finally:
        if child.is_alive():
            child.kill()
        child.join(timeout=5)
        receiver.close()


def _died(exitcode: int | None, limits: ParseLimits) -> str:
    mib = limits.memory_bytes // 2**20
    return (
        f"could not be read within the limits for uploads ({mib} MiB of memory, "
        f"{limits.seconds:g} seconds): split it into smaller files (exit {exitcode})"
    )


def _parse_in_child(
    name: str, data: bytes, memory_bytes: int, cpu_seconds: int, results: Connection
) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))
    try:
        parsed = parse_bytes(name, data, progress=lambda d, t: results.send(("progress", (d, t))))
    except ImportFormatError as e:
        results.send(("refused", (e.source, e.line, e.message)))
    except MemoryError:
        results.send(("refused", (name, 0, "it needs more memory to read than uploads may use")))
    except Exception as e:  # reported by its kind: the parent records the failure
        results.send(("refused", (name, 0, f"could not be processed ({type(e).__name__})")))
    else:
        results.send(("done", parsed))
    finally:
        results.close()

"""Index builds shared by the processes of one machine, and news of new revisions between them.

Every process that serves (gunicorn workers, background workers, the CLI) reads the same index
files. A build takes seconds to minutes, so only one process builds an organization's index:
it holds a file lock beside the files, and every other process answers from the snapshot it
has (or the previous files) until the new files are written. A file lock is the right reach:
the files are this machine's, and the kernel releases the lock of a process that dies.

Once the files are written the builder announces the revision on a ``RevisionFeed``; through
Redis, every process that holds the organization's older snapshot loads the new one at once,
before a customer asks. Without Redis (the embedded default, one process) there is nobody to
tell: the next search sees the database's revision and loads the files itself.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Protocol

import redis

log = logging.getLogger(__name__)

RevisionListener = Callable[[int, str, int], None]
REVISION_CHANNEL = "imaradesk:knowledge-revisions"
# A listener that lost Redis tries again this often; what it missed meanwhile, searches load.
_RECONNECT_SECONDS = 1.0


class BuildLocks:
    """One lock file per organization under ``<index_dir>/locks/``, held by one thread.

    The holding thread may take it again (a change holds it across its write and the rebuild
    that follows); any other thread, of this process or another, finds it taken.
    """

    def __init__(self, index_dir: Path) -> None:
        self._dir = index_dir / "locks"
        self._guard = threading.Lock()
        self._held: dict[int, _Holding] = {}

    def _path(self, org_id: int) -> Path:
        return self._dir / f"org-{org_id}.lock"

    def try_hold(self, org_id: int) -> BuildLock | None:
        """The organization's build lock if no other thread or process holds it, else None."""
        with self._guard:
            holding = self._held.get(org_id)
            if holding is not None:
                if holding.thread != threading.get_ident():
                    return None
                holding.depth += 1
                return BuildLock(self, org_id)
            handle = self._open(org_id)
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                return None
            self._held[org_id] = _Holding(threading.get_ident(), handle)
            return BuildLock(self, org_id)

    def hold(self, org_id: int, *, timeout: float) -> BuildLock | None:
        """Wait up to ``timeout`` seconds for the lock (None if another holder kept it)."""
        deadline = time.monotonic() + timeout
        while True:
            held = self.try_hold(org_id)
            if held is not None or time.monotonic() >= deadline:
                return held
            time.sleep(0.05)

    def release(self, org_id: int) -> None:
        with self._guard:
            holding = self._held[org_id]
            holding.depth -= 1
            if holding.depth == 0:
                del self._held[org_id]
                # Closing the file releases the lock; the file stays for the next builder.
                holding.handle.close()

    def remove(self, org_id: int) -> None:
        self._path(org_id).unlink(missing_ok=True)

    def _open(self, org_id: int) -> IO[bytes]:
        self._dir.mkdir(parents=True, exist_ok=True)
        return open(self._path(org_id), "ab")  # closed by release


class _Holding:
    def __init__(self, thread: int, handle: IO[bytes]) -> None:
        self.thread = thread
        self.handle = handle
        self.depth = 1


class BuildLock:
    def __init__(self, locks: BuildLocks, org_id: int) -> None:
        self._locks = locks
        self._org_id = org_id

    def release(self) -> None:
        self._locks.release(self._org_id)

    def __enter__(self) -> BuildLock:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()


class RevisionFeed(Protocol):
    def publish(self, org_id: int, encoder: str, revision: int) -> None:
        """Tell the other processes that this revision's files are written."""
        ...

    def listen(self, listener: RevisionListener) -> None:
        """Call ``listener(org_id, encoder, revision)`` for every revision another process
        publishes, from a thread of this process (started again in a forked child)."""
        ...


class LocalRevisionFeed:
    """One process: nobody else to tell."""

    def publish(self, org_id: int, encoder: str, revision: int) -> None:
        return None

    def listen(self, listener: RevisionListener) -> None:
        return None


class RedisRevisionFeed:
    """Revisions on a Redis pub/sub channel, heard by a daemon thread in each process."""

    def __init__(self, client: redis.Redis, *, channel: str = REVISION_CHANNEL) -> None:
        self._client = client
        self._channel = channel
        self._listener: RevisionListener | None = None
        self._listening_pid: int | None = None
        self._guard = threading.Lock()
        self._subscribed = threading.Event()

    def publish(self, org_id: int, encoder: str, revision: int) -> None:
        message = json.dumps({"org": org_id, "encoder": encoder, "revision": revision})
        try:
            self._client.publish(self._channel, message)
        except redis.RedisError:
            # Listeners only load early what their next search would load anyway.
            log.warning("could not announce a knowledge revision", exc_info=True)

    def listen(self, listener: RevisionListener) -> None:
        if self._listening_pid == os.getpid():
            return  # called before every search: the common case takes no lock
        with self._guard:
            self._listener = listener
            # A thread does not survive fork: a gunicorn worker starts its own.
            if self._listening_pid == os.getpid():
                return
            self._listening_pid = os.getpid()
            self._subscribed.clear()
            threading.Thread(
                target=self._listen_forever, name="knowledge-revisions", daemon=True
            ).start()

    def wait_subscribed(self, timeout: float) -> bool:
        """Whether this process's listener is subscribed (tests wait for it before publishing)."""
        return self._subscribed.wait(timeout)

    def _listen_forever(self) -> None:
        while True:
            try:
                self._listen_once()
            except redis.RedisError:
                self._subscribed.clear()
                time.sleep(_RECONNECT_SECONDS)
            except Exception:  # a listener's failure must not end the thread
                log.exception("a knowledge revision could not be loaded")

    def _listen_once(self) -> None:
        pubsub = self._client.pubsub(ignore_subscribe_messages=True)
        try:
            pubsub.subscribe(self._channel)
            while True:
                message = pubsub.get_message(timeout=5.0)
                if pubsub.subscribed:
                    self._subscribed.set()
                if message is None or message.get("type") != "message":
                    continue
                news = json.loads(message["data"])
                listener = self._listener
                if listener is not None:
                    listener(int(news["org"]), str(news["encoder"]), int(news["revision"]))
        finally:
            pubsub.close()

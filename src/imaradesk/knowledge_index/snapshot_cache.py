"""The in-memory snapshot of every organization, and the per-organization rebuild lock.

A snapshot is immutable and replaced whole, so readers take the current one without locking;
only building (or loading) one for an organization is serialised, per organization.
"""

from __future__ import annotations

import threading

from imaradesk.knowledge_index.retrieval_types import OrgKnowledge

# How long a search waits on a rebuild's lock before looking for a newly published snapshot.
_POLL_SECONDS = 0.05


class SnapshotCache:
    def __init__(self) -> None:
        self._snapshots: dict[int, OrgKnowledge] = {}
        self._guard = threading.Lock()
        self._org_locks: dict[int, threading.Lock] = {}

    def get(self, org_id: int) -> OrgKnowledge | None:
        return self._snapshots.get(org_id)

    def fresh(self, org_id: int, revision: int | None) -> OrgKnowledge | None:
        """The current snapshot if it is at ``revision`` or newer (any, without a revision)."""
        current = self._snapshots.get(org_id)
        if current is not None and (revision is None or current.revision >= revision):
            return current
        return None

    def publish(self, snapshot: OrgKnowledge) -> None:
        self._snapshots[snapshot.org_id] = snapshot

    def restore(self, org_id: int, previous: OrgKnowledge | None) -> None:
        """Put back what was there before a build that failed (nothing, if nothing was)."""
        if previous is not None:
            self._snapshots[org_id] = previous
        else:
            self._snapshots.pop(org_id, None)

    def drop(self, org_id: int) -> None:
        with self._guard:
            self._snapshots.pop(org_id, None)

    def lock(self, org_id: int) -> threading.Lock:
        """The organization's build lock."""
        with self._guard:
            return self._org_locks.setdefault(org_id, threading.Lock())

    def fresh_or_lock(self, org_id: int, revision: int | None) -> OrgKnowledge | None:
        """A snapshot at ``revision`` or newer, or None once the caller holds the build lock.

        While another thread rebuilds, keep looking: the interim snapshot of a large knowledge
        base is published before the rebuild (and the lock) ends.
        """
        lock = self.lock(org_id)
        while True:
            current = self.fresh(org_id, revision)
            if current is not None:
                return current
            if lock.acquire(timeout=_POLL_SECONDS):
                return None

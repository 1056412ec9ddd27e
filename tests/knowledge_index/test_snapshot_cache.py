"""The per-organization snapshot cache and its build lock."""

from __future__ import annotations

import threading
from dataclasses import replace

from imaradesk.knowledge_index.snapshot_cache import SnapshotCache
from tests.knowledge_index.snapshots import build

SNAPSHOT = build()  # revision 1, org 7


def test_fresh_means_at_the_revision_or_newer() -> None:
    cache = SnapshotCache()
    assert cache.fresh(7, None) is None
    cache.publish(SNAPSHOT)
    assert cache.fresh(7, None) is SNAPSHOT
    assert cache.fresh(7, 1) is SNAPSHOT
    assert cache.fresh(7, 2) is None
    assert cache.get(7) is SNAPSHOT and cache.get(8) is None


def test_restore_puts_back_the_previous_snapshot_or_nothing() -> None:
    cache = SnapshotCache()
    newer = replace(SNAPSHOT, revision=2)
    cache.publish(newer)
    cache.restore(7, SNAPSHOT)
    assert cache.get(7) is SNAPSHOT
    cache.restore(7, None)
    assert cache.get(7) is None
    cache.publish(SNAPSHOT)
    cache.drop(7)
    assert cache.get(7) is None


def test_fresh_or_lock_takes_the_lock_when_nothing_fresh_is_there() -> None:
    cache = SnapshotCache()
    assert cache.fresh_or_lock(7, 1) is None
    assert cache.lock(7).locked()
    cache.lock(7).release()
    cache.publish(SNAPSHOT)
    assert cache.fresh_or_lock(7, 1) is SNAPSHOT
    assert not cache.lock(7).locked()


def test_a_waiting_search_takes_a_snapshot_published_while_another_thread_builds() -> None:
    cache = SnapshotCache()
    lock = cache.lock(7)
    lock.acquire()  # another thread is rebuilding
    found: list[object] = []
    waiter = threading.Thread(target=lambda: found.append(cache.fresh_or_lock(7, 1)))
    waiter.start()
    cache.publish(SNAPSHOT)  # the interim snapshot, before the rebuild (and its lock) ends
    waiter.join(timeout=5)
    assert found == [SNAPSHOT]
    assert lock.locked()  # still the builder's
    lock.release()


def test_organizations_have_locks_of_their_own() -> None:
    cache = SnapshotCache()
    assert cache.lock(7) is cache.lock(7)
    assert cache.lock(7) is not cache.lock(8)

"""Every organization's snapshots under one encoder: in memory, in sealed files, built.

The knowledge base keeps one of these per encoder (the main one and, optionally, the
multilingual one); each has its own vectors, answer models and files, built from the same rows.
One process at a time builds an organization's files (see shared_builds); the others answer
from what they have meanwhile and load the new files when the builder announces them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

from imaradesk.knowledge_index.embedder import Embedder
from imaradesk.knowledge_index.index_builder import IndexBuilder, read_knowledge
from imaradesk.knowledge_index.phrasing_languages import LanguageOf
from imaradesk.knowledge_index.retrieval_types import (
    AnsweringSettings,
    OrgKnowledge,
    ProgressCallback,
)
from imaradesk.knowledge_index.shared_builds import BuildLocks, LocalRevisionFeed, RevisionFeed
from imaradesk.knowledge_index.snapshot_cache import SnapshotCache
from imaradesk.knowledge_index.snapshot_store import SnapshotStore, fingerprint
from imaradesk.runtime.metrics import KNOWLEDGE_SNAPSHOTS
from imaradesk.storage.db import Database

log = logging.getLogger(__name__)


class EncoderIndex:
    def __init__(
        self,
        *,
        name: str,
        database: Database,
        embedder: Embedder,
        answering: AnsweringSettings,
        index_dir: Path,
        languages: LanguageOf | None = None,
        reads: frozenset[str] | None = None,
        feed: RevisionFeed | None = None,
        build_wait_seconds: float = 600.0,
    ) -> None:
        self.name = name
        self._feed = feed or LocalRevisionFeed()
        self._build_locks = BuildLocks(index_dir)
        self._build_wait = build_wait_seconds
        self.embedder = embedder
        self.answering = answering
        self._db = database
        self._cache = SnapshotCache()
        self._store = SnapshotStore(
            sealer=database.keystore,
            index_dir=index_dir,
            # Files built from all phrasings are not this index's when it reads fewer languages.
            fingerprint={
                **fingerprint(embedder, answering),
                **({"reads": sorted(reads)} if reads is not None else {}),
            },
            hybrid=answering.hybrid,
        )
        self._builder = IndexBuilder(
            embedder=embedder, answering=answering, languages=languages, reads=reads
        )

    def snapshot(self, org_id: int, *, revision: int | None = None) -> OrgKnowledge:
        """The organization's snapshot at ``revision`` or newer, loading or building it.

        While another thread or process builds it, the snapshot this process has (or the
        previous files) answers; with none at all, the search waits for that build and loads
        its files.
        """
        waited = False
        while True:
            found = self._cache.fresh_or_lock(org_id, revision)
            if found is not None:
                return found
            try:
                current = self._cache.fresh(org_id, revision)
                if current is not None:
                    return current
                current = self._cache.get(org_id)
                loaded = self._load_fresh(org_id, revision)
                if loaded is not None:
                    return loaded
                build = self._build_locks.try_hold(org_id)
                if build is None and not waited:
                    previous = current or self._store.load(org_id)
                    if previous is not None:
                        KNOWLEDGE_SNAPSHOTS.labels(encoder=self.name, how="previous").inc()
                        self._cache.publish(previous)
                        return previous
                else:
                    with build or _NoBuildLock():
                        # Another process may have written this revision meanwhile.
                        loaded = self._load_fresh(org_id, revision)
                        if loaded is not None:
                            return loaded
                        return self._rebuild_locked(org_id, previous=current, progress=None)
            finally:
                self._cache.lock(org_id).release()
            # Not holding this process's lock while waiting: the builder may be a thread here.
            finished = self._build_locks.hold(org_id, timeout=self._build_wait)
            if finished is not None:
                finished.release()
            waited = True

    def _load_fresh(self, org_id: int, revision: int | None) -> OrgKnowledge | None:
        loaded = self._store.load(org_id, min_revision=revision)
        if loaded is not None and (revision is None or loaded.revision >= revision):
            KNOWLEDGE_SNAPSHOTS.labels(encoder=self.name, how="loaded").inc()
            self._cache.publish(loaded)
            return loaded
        return None

    def ready(self, org_id: int, *, revision: int | None = None) -> OrgKnowledge | None:
        """The snapshot at ``revision`` or newer if one is in memory or on disk; never builds
        and never waits for a build."""
        found = self._cache.fresh(org_id, revision)
        if found is not None:
            return found
        lock = self._cache.lock(org_id)
        if not lock.acquire(blocking=False):
            return None
        try:
            return self._load_fresh(org_id, revision)
        finally:
            lock.release()

    def building(self, org_id: int) -> AbstractContextManager[object]:
        """Hold the organization's build lock (waiting for another builder to finish)."""
        return self._build_locks.hold(org_id, timeout=self._build_wait) or _NoBuildLock()

    def cached_revision(self, org_id: int) -> int | None:
        """The revision of the snapshot this process holds in memory, if any."""
        current = self._cache.get(org_id)
        return current.revision if current is not None else None

    def hear(self, org_id: int, revision: int) -> None:
        """Another process wrote this revision's files: load them if this process answers
        this organization from an older snapshot (one it never asked for stays unloaded)."""
        held = self.cached_revision(org_id)
        if held is not None and held < revision:
            self.ready(org_id, revision=revision)

    def refresh(
        self,
        org_id: int,
        *,
        progress: ProgressCallback | None = None,
        on_interim: Callable[[OrgKnowledge], None] | None = None,
    ) -> OrgKnowledge:
        """Rebuild from the database, re-using the vectors of unchanged phrasings (after any
        build another process is running for the organization)."""
        with self._cache.lock(org_id):
            with self.building(org_id):
                previous = self._cache.get(org_id) or self._store.load(org_id)
                return self._rebuild_locked(
                    org_id, previous=previous, progress=progress, on_interim=on_interim
                )

    def forget(self, org_id: int) -> None:
        """Drop the in-memory snapshot (the files stay)."""
        self._cache.drop(org_id)

    def erase(self, org_id: int) -> None:
        with self._cache.lock(org_id):
            self._cache.restore(org_id, None)
            self._store.erase(org_id)
            self._build_locks.remove(org_id)

    def _rebuild_locked(
        self,
        org_id: int,
        *,
        previous: OrgKnowledge | None,
        progress: ProgressCallback | None,
        on_interim: Callable[[OrgKnowledge], None] | None = None,
    ) -> OrgKnowledge:
        rows = read_knowledge(self._db, org_id)
        prepared = self._builder.prepare(org_id, rows, previous=previous, progress=progress)
        if prepared.interim is not None:
            # In this process only: other processes keep the previous files until the final
            # ones are written, then load those.
            self._cache.publish(prepared.interim)
            if on_interim is not None:
                on_interim(prepared.interim)
        try:
            snapshot = self._builder.train(prepared)
        except BaseException:
            # The interim snapshot was only good until calibration ended: not as an outcome.
            self._cache.restore(org_id, previous)
            raise
        self._store.save(snapshot)
        self._cache.publish(snapshot)
        KNOWLEDGE_SNAPSHOTS.labels(encoder=self.name, how="built").inc()
        self._feed.publish(org_id, self.name, snapshot.revision)
        log.info(
            "knowledge index built",
            extra={
                "org_id": org_id,
                "encoder": self.name,
                "revision": rows.revision,
                "phrasings": len(rows.phrasings),
                "embedded": prepared.embedded,
                "method": snapshot.report.method,
            },
        )
        return snapshot


class _NoBuildLock:
    """Another process kept the build lock past the wait: build anyway rather than never."""

    def __enter__(self) -> None:
        log.warning("built a knowledge index without the build lock (another process held it)")

    def __exit__(self, *_exc: object) -> None:
        return None

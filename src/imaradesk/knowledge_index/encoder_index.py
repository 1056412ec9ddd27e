"""Every organization's snapshots under one encoder: in memory, in sealed files, built.

The knowledge base keeps one of these per encoder (the main one and, optionally, the
multilingual one); each has its own vectors, answer models and files, built from the same rows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from imaradesk.knowledge_index.embedder import Embedder
from imaradesk.knowledge_index.index_builder import IndexBuilder, read_knowledge
from imaradesk.knowledge_index.phrasing_languages import LanguageOf
from imaradesk.knowledge_index.retrieval_types import (
    AnsweringSettings,
    OrgKnowledge,
    ProgressCallback,
)
from imaradesk.knowledge_index.snapshot_cache import SnapshotCache
from imaradesk.knowledge_index.snapshot_store import SnapshotStore, fingerprint
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
    ) -> None:
        self.name = name
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
        """The organization's snapshot at ``revision`` or newer, loading or building it."""
        found = self._cache.fresh_or_lock(org_id, revision)
        if found is not None:
            return found
        try:
            current = self._cache.fresh(org_id, revision)
            if current is not None:
                return current
            current = self._cache.get(org_id)
            loaded = self._store.load(org_id)
            if loaded is not None and (revision is None or loaded.revision >= revision):
                self._cache.publish(loaded)
                return loaded
            return self._rebuild_locked(org_id, previous=current or loaded, progress=None)
        finally:
            self._cache.lock(org_id).release()

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
            loaded = self._store.load(org_id)
            if loaded is not None and (revision is None or loaded.revision >= revision):
                self._cache.publish(loaded)
                return loaded
            return None
        finally:
            lock.release()

    def refresh(
        self,
        org_id: int,
        *,
        progress: ProgressCallback | None = None,
        on_interim: Callable[[OrgKnowledge], None] | None = None,
    ) -> OrgKnowledge:
        """Rebuild from the database, re-using the vectors of unchanged phrasings."""
        with self._cache.lock(org_id):
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

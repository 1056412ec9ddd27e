"""The knowledge base of every organization: import, index, search, erase.

Each organization has its own vector index (one vector per phrasing) and answer model, kept in
memory as an immutable snapshot and persisted under ``<data_dir>/index/org-<id>/``. A snapshot
carries the organization's ``kb_revision``; when the database moves ahead (an import by
another process), the next search loads the newer files or rebuilds from the database.

``KnowledgeBase`` composes the parts, one job each: ``snapshot_cache`` (in memory, per-org
locks), ``snapshot_store`` (sealed files), ``index_builder`` (embedding and training) and
``retrieval`` (searching a snapshot). The value types live in ``retrieval_types``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from imaradesk.knowledge_index.documents import ParsedDocument
from imaradesk.knowledge_index.embedder import Embedder
from imaradesk.knowledge_index.errors import EntryConflict
from imaradesk.knowledge_index.index_builder import IndexBuilder, read_knowledge
from imaradesk.knowledge_index.retrieval import retrieve

# Re-exported: callers import the value types from here.
from imaradesk.knowledge_index.retrieval_types import AnsweringSettings as AnsweringSettings
from imaradesk.knowledge_index.retrieval_types import Candidate as Candidate
from imaradesk.knowledge_index.retrieval_types import EntryInfo as EntryInfo
from imaradesk.knowledge_index.retrieval_types import ImportReport as ImportReport
from imaradesk.knowledge_index.retrieval_types import OrgKnowledge as OrgKnowledge
from imaradesk.knowledge_index.retrieval_types import ProgressCallback as ProgressCallback
from imaradesk.knowledge_index.retrieval_types import Retrieval as Retrieval
from imaradesk.knowledge_index.retrieval_types import RetrievalMode as RetrievalMode
from imaradesk.knowledge_index.snapshot_cache import SnapshotCache
from imaradesk.knowledge_index.snapshot_store import SnapshotStore, fingerprint
from imaradesk.runtime.clock import Clock
from imaradesk.storage.db import Database
from imaradesk.storage.knowledge_repository import NO_CHANGE, KnowledgeData
from imaradesk.storage.knowledge_repository import EntryConflict as StoredEntryConflict

log = logging.getLogger(__name__)


class KnowledgeBase:
    def __init__(
        self,
        *,
        database: Database,
        embedder: Embedder,
        index_dir: Path,
        answering: AnsweringSettings,
        clock: Clock,
    ) -> None:
        self._db = database
        self._embedder = embedder
        self._answering = answering
        self._clock = clock
        self._cache = SnapshotCache()
        self._store = SnapshotStore(
            sealer=database.keystore,
            index_dir=index_dir,
            fingerprint=fingerprint(embedder, answering),
            hybrid=answering.hybrid,
        )
        self._builder = IndexBuilder(embedder=embedder, answering=answering)

    @property
    def embedder(self) -> Embedder:
        return self._embedder

    # -- import ------------------------------------------------------------------------------

    def import_documents(
        self,
        org_id: int,
        documents: Sequence[ParsedDocument],
        *,
        prune_missing: bool = True,
        progress: ProgressCallback | None = None,
    ) -> ImportReport:
        """Write the documents' entries in one transaction, then bring the index up to date.

        Raises:
            EntryConflict: a document names an entry another source owns (nothing is written).
        """
        started = time.perf_counter()
        now = self._clock.now()
        total = NO_CHANGE
        try:
            with self._db.write() as session:
                data = KnowledgeData(session, org_id)
                for document in documents:
                    total += data.sync_entries(
                        document.drafts,
                        source=document.source,
                        now=now,
                        prune_missing=prune_missing,
                    )
        except StoredEntryConflict as e:
            raise EntryConflict.of(e) from e
        snapshot = self.refresh(org_id, progress=progress)
        return ImportReport(
            sources=tuple(d.source for d in documents),
            change=total,
            entries=len(snapshot.entries),
            phrasings=len(snapshot.entry_of),
            training=snapshot.report,
            seconds=time.perf_counter() - started,
        )

    # -- search ------------------------------------------------------------------------------

    def search(self, org_id: int, text: str, *, revision: int) -> Retrieval:
        """Find the entry that answers ``text`` in the organization's knowledge base."""
        snapshot = self.snapshot(org_id, revision=revision)
        vector = self._embedder.embed([text])
        return retrieve(snapshot, vector[0], text, self._answering)

    def search_vector(
        self, org_id: int, vector: np.ndarray, *, revision: int, text: str | None = None
    ) -> Retrieval:
        """Like ``search`` with the query already embedded; hybrid retrieval needs ``text``."""
        return retrieve(self.snapshot(org_id, revision=revision), vector, text, self._answering)

    # -- snapshots ---------------------------------------------------------------------------

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

    def refresh(
        self,
        org_id: int,
        *,
        progress: ProgressCallback | None = None,
        on_interim: Callable[[OrgKnowledge], None] | None = None,
    ) -> OrgKnowledge:
        """Rebuild from the database, re-using the vectors of unchanged phrasings.

        ``on_interim`` hears of the interim snapshot a large knowledge base answers from while
        its answer model is calibrated.
        """
        with self._cache.lock(org_id):
            previous = self._cache.get(org_id) or self._store.load(org_id)
            return self._rebuild_locked(
                org_id, previous=previous, progress=progress, on_interim=on_interim
            )

    def forget(self, org_id: int) -> None:
        """Drop the in-memory snapshot (the files stay)."""
        self._cache.drop(org_id)

    def erase_organization(self, org_id: int) -> None:
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
                "revision": rows.revision,
                "phrasings": len(rows.phrasings),
                "embedded": prepared.embedded,
                "method": snapshot.report.method,
            },
        )
        return snapshot

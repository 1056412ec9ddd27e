"""The knowledge base of every organization: import, index, search, erase.

Each organization has its own vector index (one vector per phrasing) and answer model, kept in
memory as an immutable snapshot and persisted under ``<data_dir>/index/org-<id>/``. A snapshot
carries the organization's ``kb_revision``; when the database moves ahead (an import by
another process), the next search loads the newer files or rebuilds from the database.

``KnowledgeBase`` composes the parts, one job each: an ``encoder_index`` per encoder (the main
one and, optionally, the multilingual one; each with its ``snapshot_cache``, ``snapshot_store``
and ``index_builder``), ``language_route`` (which of them judges a question) and ``retrieval``
(searching a snapshot). The value types live in ``retrieval_types``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from pathlib import Path

import numpy as np

from imaradesk.knowledge_index.answer_models import SimilarityMarginModel
from imaradesk.knowledge_index.documents import ParsedDocument
from imaradesk.knowledge_index.embedder import Embedder
from imaradesk.knowledge_index.encoder_index import EncoderIndex
from imaradesk.knowledge_index.errors import EntryConflict
from imaradesk.knowledge_index.language_route import MultilingualSettings, Route, choose_route
from imaradesk.knowledge_index.phrasing_languages import LanguageOf
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
from imaradesk.knowledge_index.shared_builds import LocalRevisionFeed, RevisionFeed
from imaradesk.runtime.clock import Clock
from imaradesk.storage.db import Database
from imaradesk.storage.knowledge_repository import NO_CHANGE, KnowledgeData
from imaradesk.storage.knowledge_repository import EntryConflict as StoredEntryConflict

log = logging.getLogger(__name__)

# The multilingual encoder embeds about 70 texts a second on two cores: up to this many
# phrasings (some 15 s) it is built with the main index; beyond, in the background, while the
# main encoder answers every language.
SYNC_MULTILINGUAL_PHRASINGS = 1000


class KnowledgeBase:
    def __init__(
        self,
        *,
        database: Database,
        embedder: Embedder,
        index_dir: Path,
        answering: AnsweringSettings,
        clock: Clock,
        multilingual: MultilingualSettings | None = None,
        languages: LanguageOf | None = None,
        feed: RevisionFeed | None = None,
    ) -> None:
        self._db = database
        self._feed = feed or LocalRevisionFeed()
        self._guard = threading.Lock()
        self._background: dict[int, threading.Thread] = {}
        self._embedder = embedder
        self._answering = answering
        self._clock = clock
        self._languages = languages
        self._primary = EncoderIndex(
            name=Route.PRIMARY,
            database=database,
            embedder=embedder,
            answering=answering,
            index_dir=index_dir,
            languages=languages,
            # Beside a multilingual encoder, the main one indexes only what it reads.
            reads=frozenset({"en"}) if multilingual is not None else None,
            feed=self._feed,
        )
        self._multilingual: EncoderIndex | None = None
        self._cross_lingual: SimilarityMarginModel | None = None
        if multilingual is not None:
            self._multilingual = EncoderIndex(
                name=Route.MULTILINGUAL,
                database=database,
                embedder=multilingual.embedder,
                answering=multilingual.answering,
                index_dir=index_dir / "multilingual",
                languages=languages,
                feed=self._feed,
            )
            self._cross_lingual = SimilarityMarginModel(
                multilingual.cross_lingual_min_similarity,
                multilingual.cross_lingual_min_margin,
                method="cross_lingual_similarity_margin",
            )

    @property
    def embedder(self) -> Embedder:
        return self._embedder

    @property
    def multilingual_embedder(self) -> Embedder | None:
        """The encoder that reads Swahili, when one is configured."""
        return self._multilingual.embedder if self._multilingual is not None else None

    def _indexes(self) -> tuple[EncoderIndex, ...]:
        return (self._primary,) + ((self._multilingual,) if self._multilingual else ())

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
        with self.changing(org_id):
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

    @contextmanager
    def changing(self, org_id: int) -> Iterator[None]:
        """Hold the organization's build locks across a change to its rows and the refresh
        that follows: a process that sees the new revision in between answers from what it
        has instead of building the index a second time."""
        with ExitStack() as held:
            for index in self._indexes():
                held.enter_context(index.building(org_id))
            yield

    # -- search ------------------------------------------------------------------------------

    def search(
        self, org_id: int, text: str, *, revision: int, language: str | None = None
    ) -> Retrieval:
        """Find the entry that answers ``text`` in the organization's knowledge base.

        ``language`` is the question's (detected here when not given); it picks the encoder
        and the answering rule (see language_route).
        """
        self._feed.listen(self._hear)
        faq = self._primary.snapshot(org_id, revision=revision)
        if language is None:
            language = self._languages.detect(text) if self._languages is not None else "en"
        route = choose_route(language, faq, multilingual=self._multilingual is not None)
        index = self._primary
        if route is not Route.PRIMARY and self._multilingual is not None:
            multilingual = self._multilingual_snapshot(org_id, faq)
            if multilingual is None:
                # Still being embedded: the main encoder answers meanwhile, under its own
                # calibration (it mostly hands Swahili off rather than guess).
                route = Route.PRIMARY
            else:
                index, faq = self._multilingual, multilingual
        judge = self._cross_lingual if route is Route.CROSS_LINGUAL else None
        vector = index.embedder.embed([text])[0]
        found = retrieve(faq, vector, text, index.answering, judge=judge)
        return replace(found, encoder=index.embedder.name, route=str(route))

    def _multilingual_snapshot(self, org_id: int, faq: OrgKnowledge) -> OrgKnowledge | None:
        """The multilingual snapshot at the main one's revision: built here and now for a small
        knowledge base, else whatever is ready while it is built in the background."""
        assert self._multilingual is not None
        ready = self._multilingual.ready(org_id, revision=faq.revision)
        if ready is not None:
            return ready
        if len(faq.entry_of) <= SYNC_MULTILINGUAL_PHRASINGS:
            return self._multilingual.snapshot(org_id, revision=faq.revision)
        self._build_multilingual_later(org_id)
        return None

    def _build_multilingual_later(self, org_id: int) -> None:
        with self._guard:
            running = self._background.get(org_id)
            if running is not None and running.is_alive():
                return
            worker = threading.Thread(
                target=self._build_multilingual,
                args=(org_id,),
                name=f"multilingual-index-{org_id}",
                daemon=True,
            )
            self._background[org_id] = worker
            worker.start()

    def _build_multilingual(self, org_id: int) -> None:
        assert self._multilingual is not None
        try:
            self._multilingual.refresh(org_id)
        except Exception:  # a background build must not die silently, nor take the process
            log.exception("multilingual index build failed", extra={"org_id": org_id})

    def settle(self, org_id: int, timeout: float | None = None) -> bool:
        """Wait for the organization's background multilingual build; True once none runs."""
        with self._guard:
            running = self._background.get(org_id)
        if running is not None:
            running.join(timeout)
            return not running.is_alive()
        return True

    def search_vector(
        self, org_id: int, vector: np.ndarray, *, revision: int, text: str | None = None
    ) -> Retrieval:
        """Like ``search`` with the query already embedded by ``embedder`` (the main encoder);
        hybrid retrieval needs ``text``."""
        self._feed.listen(self._hear)
        found = retrieve(self.snapshot(org_id, revision=revision), vector, text, self._answering)
        return replace(found, encoder=self._embedder.name)

    # -- snapshots ---------------------------------------------------------------------------

    def snapshot(self, org_id: int, *, revision: int | None = None) -> OrgKnowledge:
        """The organization's snapshot at ``revision`` or newer (the main encoder's; its
        entries are every encoder's), loading or building it."""
        return self._primary.snapshot(org_id, revision=revision)

    def refresh(
        self,
        org_id: int,
        *,
        progress: ProgressCallback | None = None,
        on_interim: Callable[[OrgKnowledge], None] | None = None,
    ) -> OrgKnowledge:
        """Rebuild from the database, re-using the vectors of unchanged phrasings.

        The main encoder's snapshot is built and published first, so English questions are
        answered from the new knowledge while the slower multilingual encoder embeds it.
        ``on_interim`` hears of the interim snapshot a large knowledge base answers from while
        its answer model is calibrated.
        """
        snapshot = self._primary.refresh(org_id, progress=progress, on_interim=on_interim)
        if self._multilingual is not None:
            if len(snapshot.entry_of) <= SYNC_MULTILINGUAL_PHRASINGS:
                self._multilingual.refresh(org_id)
            else:
                self._build_multilingual_later(org_id)
        return snapshot

    def _hear(self, org_id: int, encoder: str, revision: int) -> None:
        for index in self._indexes():
            if index.name == encoder:
                index.hear(org_id, revision)

    def cached_revision(self, org_id: int, encoder: str = "primary") -> int | None:
        """The revision this process answers the organization from, under one encoder."""
        for index in self._indexes():
            if index.name == encoder:
                return index.cached_revision(org_id)
        return None

    def forget(self, org_id: int) -> None:
        """Drop the in-memory snapshots (the files stay)."""
        for index in self._indexes():
            index.forget(org_id)

    def erase_organization(self, org_id: int) -> None:
        # A background build would write the files again after they are erased.
        self.settle(org_id)
        for index in self._indexes():
            index.erase(org_id)

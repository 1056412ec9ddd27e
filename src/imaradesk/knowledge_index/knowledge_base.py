"""The knowledge base of every organization: import, index, search, erase.

Each organization has its own vector index (one vector per phrasing) and answer model, kept in
memory as an immutable snapshot and persisted under ``<data_dir>/index/org-<id>/``. A snapshot
carries the organization's ``kb_revision``; when the database moves ahead (an import by
another process), the next search loads the newer files or rebuilds from the database.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from imaradesk.knowledge_index.confidence import (
    AnswerModel,
    EntryScores,
    Judgement,
    SimilarityMarginModel,
    TrainingReport,
    entry_scores,
    fuse,
    fused_scores,
    lexical_entry_scores,
    load_answer_model,
    train_answer_model,
)
from imaradesk.knowledge_index.documents import ParsedDocument
from imaradesk.knowledge_index.embedder import Embedder
from imaradesk.knowledge_index.lexical import LexicalIndex, LexicalIndexError
from imaradesk.knowledge_index.vector_index import FaissVectorIndex, VectorIndexError
from imaradesk.runtime.clock import Clock
from imaradesk.storage.db import Database
from imaradesk.storage.encryption import EncryptionError
from imaradesk.storage.repositories import KnowledgeChange, OrgData

log = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int], None]
RetrievalMode = Literal["dense", "hybrid"]
_EMBED_BATCH = 256
# Calibrating the answer model of a large knowledge base takes a while (about 20 s for 10,000
# phrasings on two cores). Meanwhile the new knowledge is answerable under a strict rule: a
# question close to a phrasing as written, and clearly closer to it than to any other entry.
INTERIM_MIN_PHRASINGS = 2000
INTERIM_MIN_SIMILARITY = 0.8
INTERIM_MIN_MARGIN = 0.1
_LEXICAL_FILE = "lexical.bm25"


@dataclass(frozen=True)
class AnsweringSettings:
    max_wrong_answer_rate: float
    min_answer_similarity: float
    fallback_min_similarity: float
    fallback_min_margin: float
    search_candidates: int
    # "hybrid": BM25 over the phrasings beside the dense index, fused by the answer model.
    retrieval_mode: RetrievalMode = "hybrid"

    @property
    def hybrid(self) -> bool:
        return self.retrieval_mode == "hybrid"

    def fingerprint(self) -> dict[str, float | str]:
        return {
            "max_wrong_answer_rate": self.max_wrong_answer_rate,
            "fallback_min_similarity": self.fallback_min_similarity,
            "fallback_min_margin": self.fallback_min_margin,
            "search_candidates": self.search_candidates,
            "retrieval_mode": self.retrieval_mode,
        }


@dataclass(frozen=True)
class EntryInfo:
    entry_id: int
    external_id: str
    question: str
    answer: str
    category: str | None
    # Where the entry came from, for citations: the file, its kind ("faq" or "passage") and
    # the place inside it (a page, a heading path).
    source: str = ""
    kind: str = "faq"
    location: str | None = None


@dataclass(frozen=True)
class Candidate:
    entry: EntryInfo
    # Best dense cosine similarity of the entry's phrasings to the query.
    similarity: float
    # Hybrid retrieval only: the entry's best BM25 score, and its reciprocal-rank-fusion score
    # (what candidates are ordered by).
    lexical: float | None = None
    fused: float | None = None


@dataclass(frozen=True)
class Retrieval:
    judgement: Judgement
    candidates: tuple[Candidate, ...]
    # The query's embedding, so that callers comparing it with other texts need not embed again.
    query: np.ndarray | None = field(default=None, compare=False, repr=False)

    @property
    def best(self) -> EntryInfo | None:
        for candidate in self.candidates:
            if candidate.entry.entry_id == self.judgement.entry_id:
                return candidate.entry
        return None

    @property
    def confident(self) -> bool:
        return self.judgement.confident and self.best is not None


@dataclass(frozen=True)
class OrgKnowledge:
    """An immutable snapshot of one organization's index; replaced, never modified."""

    org_id: int
    revision: int
    index: FaissVectorIndex
    entry_of: dict[int, int]
    # Digest of each phrasing's text: a vector is re-used only for exactly the same text
    # (SQLite may give a deleted row's id to a new one).
    text_digest_of: dict[int, str]
    entries: dict[int, EntryInfo]
    model: AnswerModel
    report: TrainingReport
    # Hybrid retrieval only: BM25 over the same phrasings, and the entry of each of its rows.
    lexical: LexicalIndex | None = None
    lexical_entries: np.ndarray | None = field(default=None, repr=False)
    phrasings_of: dict[int, tuple[int, ...]] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class ImportReport:
    sources: tuple[str, ...]
    change: KnowledgeChange
    entries: int
    phrasings: int
    training: TrainingReport
    seconds: float


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
        self._keystore = database.keystore
        self._embedder = embedder
        self._index_dir = index_dir
        self._answering = answering
        self._clock = clock
        self._snapshots: dict[int, OrgKnowledge] = {}
        self._guard = threading.Lock()
        self._org_locks: dict[int, threading.Lock] = {}

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
        """Write the documents' entries in one transaction, then bring the index up to date."""
        started = time.perf_counter()
        now = self._clock.now()
        total = KnowledgeChange(0, 0, 0, 0, (), ())
        with self._db.write() as session:
            data = OrgData(session, org_id)
            for document in documents:
                change = data.sync_entries(
                    document.drafts, source=document.source, now=now, prune_missing=prune_missing
                )
                total = KnowledgeChange(
                    total.created + change.created,
                    total.updated + change.updated,
                    total.unchanged + change.unchanged,
                    total.removed + change.removed,
                    total.added_phrasing_ids + change.added_phrasing_ids,
                    total.removed_phrasing_ids + change.removed_phrasing_ids,
                )
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
        return self._search(snapshot, vector[0], text)

    def search_vector(
        self, org_id: int, vector: np.ndarray, *, revision: int, text: str | None = None
    ) -> Retrieval:
        """Like ``search`` with the query already embedded; hybrid retrieval needs ``text``."""
        return self._search(self.snapshot(org_id, revision=revision), vector, text)

    def _search(self, snapshot: OrgKnowledge, vector: np.ndarray, text: str | None) -> Retrieval:
        k = min(self._answering.search_candidates, max(len(snapshot.index), 1))
        scores, ids = snapshot.index.search(vector.reshape(1, -1), k)
        dense = entry_scores(scores[0], ids[0], snapshot.entry_of)
        if snapshot.lexical is None or snapshot.lexical_entries is None:
            judgement = snapshot.model.judge(
                vector, dense, min_similarity=self._answering.min_answer_similarity
            )
            candidates = [
                Candidate(snapshot.entries[e], s)
                for e, s in dense.ranked()[:5]
                if e in snapshot.entries
            ]
            if judgement.entry_id is not None and all(
                c.entry.entry_id != judgement.entry_id for c in candidates
            ):
                entry = snapshot.entries.get(judgement.entry_id)
                if entry is not None:
                    candidates.insert(0, Candidate(entry, dense.of(entry.entry_id)))
            return Retrieval(judgement, tuple(candidates), vector)

        phrasing_scores = snapshot.lexical.score_all([text or ""])[0]
        lexical = lexical_entry_scores(
            phrasing_scores[None, :], snapshot.lexical_entries, self._answering.search_candidates
        )[0]
        judgement = snapshot.model.judge(
            vector, dense, min_similarity=self._answering.min_answer_similarity, lexical=lexical
        )
        # Ordered by the fused score, the judged entry first when it is not among the best (as
        # in dense mode).
        fused = fused_scores(dense, lexical)
        best = sorted(fused, key=lambda e: -fused[e])[:5]
        best_lexical = lexical.ranked()[0][1] if lexical.by_entry else 0.0

        def candidate(entry_id: int) -> Candidate:
            # An entry BM25 alone found gets its own cosine (callers filter suggestions on it),
            # and its fused score is recomputed with it.
            similarity = self._similarity(snapshot, vector, dense, entry_id)
            score = lexical.by_entry.get(entry_id)
            if score is None:
                rows = snapshot.lexical_entries == entry_id
                score = float(phrasing_scores[rows].max(initial=0.0))
            share = score / best_lexical if best_lexical > 0 else 0.0
            return Candidate(snapshot.entries[entry_id], similarity, score, fuse(similarity, share))

        ordered = sorted(
            (candidate(e) for e in best if e in snapshot.entries), key=lambda c: -(c.fused or 0.0)
        )
        judged = judgement.entry_id
        if judged is not None and judged not in best and judged in snapshot.entries:
            ordered.insert(0, candidate(judged))
        return Retrieval(judgement, tuple(ordered), vector)

    @staticmethod
    def _similarity(
        snapshot: OrgKnowledge, vector: np.ndarray, dense: EntryScores, entry_id: int
    ) -> float:
        # An entry found by BM25 alone has no cosine in the dense results: compute its own,
        # since callers filter suggestions on it.
        if entry_id in dense.by_entry:
            return dense.by_entry[entry_id]
        phrasings = snapshot.phrasings_of.get(entry_id, ())
        if not phrasings:
            return dense.floor
        return float(np.max(snapshot.index.vectors(list(phrasings)) @ vector))

    # -- snapshots ---------------------------------------------------------------------------

    def snapshot(self, org_id: int, *, revision: int | None = None) -> OrgKnowledge:
        """The organization's snapshot at ``revision`` or newer, loading or building it."""
        lock = self._org_lock(org_id)
        while True:
            current = self._snapshots.get(org_id)
            if current is not None and (revision is None or current.revision >= revision):
                return current
            # While another thread rebuilds, keep looking: the interim snapshot of a large
            # knowledge base is published before the rebuild (and the lock) ends.
            if lock.acquire(timeout=0.05):
                break
        try:
            current = self._snapshots.get(org_id)
            if current is not None and (revision is None or current.revision >= revision):
                return current
            loaded = self._load(org_id)
            if loaded is not None and (revision is None or loaded.revision >= revision):
                self._snapshots[org_id] = loaded
                return loaded
            return self._rebuild_locked(org_id, previous=current or loaded, progress=None)
        finally:
            lock.release()

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
        with self._org_lock(org_id):
            previous = self._snapshots.get(org_id) or self._load(org_id)
            return self._rebuild_locked(
                org_id, previous=previous, progress=progress, on_interim=on_interim
            )

    def forget(self, org_id: int) -> None:
        """Drop the in-memory snapshot (the files stay)."""
        with self._guard:
            self._snapshots.pop(org_id, None)

    def erase_organization(self, org_id: int) -> None:
        with self._org_lock(org_id):
            self._snapshots.pop(org_id, None)
            shutil.rmtree(self._org_dir(org_id), ignore_errors=True)

    def _org_lock(self, org_id: int) -> threading.Lock:
        with self._guard:
            return self._org_locks.setdefault(org_id, threading.Lock())

    def _org_dir(self, org_id: int) -> Path:
        return self._index_dir / f"org-{org_id}"

    def _fingerprint(self) -> dict[str, object]:
        return {
            "embedder": self._embedder.name,
            "dimension": self._embedder.dimension,
            "answering": self._answering.fingerprint(),
            "format": 4,
        }

    def _rebuild_locked(
        self,
        org_id: int,
        *,
        previous: OrgKnowledge | None,
        progress: ProgressCallback | None,
        on_interim: Callable[[OrgKnowledge], None] | None = None,
    ) -> OrgKnowledge:
        with self._db.read() as session:
            data = OrgData(session, org_id)
            revision = data.organization().kb_revision
            # Disabled entries are left out: the bot must not answer from them.
            entries = {
                e.id: EntryInfo(
                    e.id,
                    e.external_id,
                    e.question,
                    e.answer,
                    e.category,
                    source=e.source,
                    kind=e.kind,
                    location=e.location,
                )
                for e in data.entries(enabled_only=True)
                if e.id is not None
            }
            phrasings = [
                (p.id, p.entry_id, p.text)
                for p in data.phrasings(enabled_only=True)
                if p.id is not None
            ]

        ids = np.array([p[0] for p in phrasings], dtype=np.int64)
        vectors = np.zeros((len(phrasings), self._embedder.dimension), dtype=np.float32)
        digests = {p[0]: _digest(p[2]) for p in phrasings}
        reusable: set[int] = set()
        if previous is not None:
            stored = set(previous.index.ids().tolist())
            reusable = {
                i for i, d in digests.items() if i in stored and previous.text_digest_of.get(i) == d
            }
        reuse_rows = [i for i, p in enumerate(phrasings) if p[0] in reusable]
        if reuse_rows:
            vectors[reuse_rows] = previous.index.vectors([phrasings[i][0] for i in reuse_rows])  # type: ignore[union-attr]
        # By length: each batch pads to its longest text, so mixing lengths wastes most of it
        # (10,000 BANKING77 phrasings embed about a third faster sorted).
        todo = sorted(
            (i for i, p in enumerate(phrasings) if p[0] not in reusable),
            key=lambda i: len(phrasings[i][2]),
        )
        if progress:
            progress(0, len(todo))
        for start in range(0, len(todo), _EMBED_BATCH):
            rows = todo[start : start + _EMBED_BATCH]
            vectors[rows] = self._embedder.embed([phrasings[i][2] for i in rows])
            if progress:
                progress(len(rows), len(todo))

        index = FaissVectorIndex(self._embedder.dimension)
        index.upsert(ids.tolist(), vectors)
        # Built from scratch every time, like the model: cheap (10,000 phrasings in well under
        # a second), and a removed phrasing's words cannot linger in it.
        hybrid = self._answering.hybrid
        lexical = LexicalIndex.build([(p[0], p[2]) for p in phrasings]) if hybrid else None
        if len(phrasings) >= INTERIM_MIN_PHRASINGS:
            interim = SimilarityMarginModel(
                INTERIM_MIN_SIMILARITY, INTERIM_MIN_MARGIN, method="similarity_margin_interim"
            )
            # In this process only: other processes keep the previous files until the final
            # ones are written, then load those.
            interim_snapshot = _make_snapshot(
                org_id=org_id,
                revision=revision,
                index=index,
                entry_of={p[0]: p[1] for p in phrasings},
                text_digest_of=digests,
                entries=entries,
                model=interim,
                report=TrainingReport(
                    interim.method, len(phrasings), len(entries), 0, 0, None, None, None
                ),
                lexical=lexical,
            )
            self._snapshots[org_id] = interim_snapshot
            if on_interim is not None:
                on_interim(interim_snapshot)
        try:
            model, report = train_answer_model(
                vectors,
                [p[1] for p in phrasings],
                max_wrong_answer_rate=self._answering.max_wrong_answer_rate,
                fallback_min_similarity=self._answering.fallback_min_similarity,
                fallback_min_margin=self._answering.fallback_min_margin,
                search_k=self._answering.search_candidates,
                texts=[p[2] for p in phrasings] if hybrid else None,
            )
        except BaseException:
            # The interim snapshot was only good until calibration ended: not as an outcome.
            if previous is not None:
                self._snapshots[org_id] = previous
            else:
                self._snapshots.pop(org_id, None)
            raise
        snapshot = _make_snapshot(
            org_id=org_id,
            revision=revision,
            index=index,
            entry_of={p[0]: p[1] for p in phrasings},
            text_digest_of=digests,
            entries=entries,
            model=model,
            report=report,
            lexical=lexical,
        )
        self._save(snapshot)
        self._snapshots[org_id] = snapshot
        log.info(
            "knowledge index built",
            extra={
                "org_id": org_id,
                "revision": revision,
                "phrasings": len(phrasings),
                "embedded": len(todo),
                "method": report.method,
            },
        )
        return snapshot

    def _save(self, snapshot: OrgKnowledge) -> None:
        # Every file is sealed with the organization's data key, like its rows: the index holds
        # the knowledge base's text and vectors derived from it.
        directory = self._org_dir(snapshot.org_id)
        directory.mkdir(parents=True, exist_ok=True)
        self._write_sealed(snapshot.org_id, directory / "vectors.faiss", snapshot.index.to_bytes())
        self._write_sealed(
            snapshot.org_id, directory / "answer_model.npz", snapshot.model.to_bytes()
        )
        if snapshot.lexical is not None:
            self._write_sealed(
                snapshot.org_id, directory / _LEXICAL_FILE, snapshot.lexical.to_bytes()
            )
        else:
            # Left by an earlier hybrid build: it holds the phrasings' words, which may since
            # have been removed.
            (directory / _LEXICAL_FILE).unlink(missing_ok=True)
        manifest = {
            **self._fingerprint(),
            "revision": snapshot.revision,
            "entry_of": {str(k): v for k, v in snapshot.entry_of.items()},
            "text_digest_of": {str(k): v for k, v in snapshot.text_digest_of.items()},
            "entries": {
                str(e.entry_id): [
                    e.external_id,
                    e.question,
                    e.answer,
                    e.category,
                    e.source,
                    e.kind,
                    e.location,
                ]
                for e in snapshot.entries.values()
            },
            "report": snapshot.report.__dict__,
        }
        # Written last: a manifest names a complete set of files.
        self._write_sealed(
            snapshot.org_id, directory / "manifest.json", json.dumps(manifest).encode()
        )

    def _write_sealed(self, org_id: int, path: Path, data: bytes) -> None:
        _atomic_write(path, self._keystore.seal_bytes(org_id, data, f"index/{path.name}"))

    def _read_sealed(self, org_id: int, path: Path) -> bytes:
        return self._keystore.open_bytes(org_id, path.read_bytes(), f"index/{path.name}")

    def _load(self, org_id: int) -> OrgKnowledge | None:
        directory = self._org_dir(org_id)
        try:
            manifest = json.loads(self._read_sealed(org_id, directory / "manifest.json"))
        except (OSError, ValueError, EncryptionError):
            return None
        if any(manifest.get(k) != v for k, v in self._fingerprint().items()):
            return None
        try:
            index = FaissVectorIndex.from_bytes(
                self._read_sealed(org_id, directory / "vectors.faiss")
            )
            model = load_answer_model(self._read_sealed(org_id, directory / "answer_model.npz"))
            lexical = (
                LexicalIndex.from_bytes(self._read_sealed(org_id, directory / _LEXICAL_FILE))
                if self._answering.hybrid
                else None
            )
        except (OSError, ValueError, VectorIndexError, LexicalIndexError, EncryptionError) as e:
            log.warning(
                "ignoring unreadable index files", extra={"org_id": org_id, "error": str(e)}
            )
            return None
        entry_of = {int(k): int(v) for k, v in manifest["entry_of"].items()}
        if len(index) != len(entry_of):
            return None
        if lexical is not None and set(lexical.ids().tolist()) != set(entry_of):
            return None
        entries = {
            int(k): EntryInfo(int(k), *v[:4], source=v[4], kind=v[5], location=v[6])
            for k, v in manifest["entries"].items()
        }
        return _make_snapshot(
            org_id=org_id,
            revision=int(manifest["revision"]),
            index=index,
            entry_of=entry_of,
            text_digest_of={int(k): v for k, v in manifest["text_digest_of"].items()},
            entries=entries,
            model=model,
            report=TrainingReport(**manifest["report"]),
            lexical=lexical,
        )


def _make_snapshot(
    *, entry_of: dict[int, int], lexical: LexicalIndex | None, **fields: object
) -> OrgKnowledge:
    """An OrgKnowledge with its lookups derived: each entry's phrasings, each BM25 row's entry."""
    phrasings_of: dict[int, list[int]] = {}
    for phrasing_id, entry_id in entry_of.items():
        phrasings_of.setdefault(entry_id, []).append(phrasing_id)
    lexical_entries = (
        None
        if lexical is None
        else np.array([entry_of[int(i)] for i in lexical.ids()], dtype=np.int64)
    )
    return OrgKnowledge(
        entry_of=entry_of,
        lexical=lexical,
        lexical_entries=lexical_entries,
        phrasings_of={e: tuple(p) for e, p in phrasings_of.items()},
        **fields,  # type: ignore[arg-type]
    )


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def _atomic_write(path: Path, data: bytes) -> None:
    # A temporary name of its own: several processes may rebuild the same index at once.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

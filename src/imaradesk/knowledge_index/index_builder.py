"""Building an organization's snapshot from its rows: embed, index, train.

Vectors of unchanged phrasings are re-used from the previous snapshot; only new or changed
texts are embedded. The BM25 index and the answer model are built from scratch every time.
Calibrating the answer model of a large knowledge base takes a while, so building has two
steps: ``prepare`` (embedding, indexes and, for a large one, an interim snapshot under a strict
rule that the caller publishes) and ``train`` (the answer model).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from imaradesk.knowledge_index.answer_models import AnswerModel, SimilarityMarginModel
from imaradesk.knowledge_index.calibration import TrainingReport, train_answer_model
from imaradesk.knowledge_index.embedder import Embedder
from imaradesk.knowledge_index.lexical import LexicalIndex
from imaradesk.knowledge_index.phrasing_languages import LanguageOf, entry_language_shares
from imaradesk.knowledge_index.retrieval_types import (
    AnsweringSettings,
    EntryInfo,
    OrgKnowledge,
    ProgressCallback,
    assemble_snapshot,
)
from imaradesk.knowledge_index.tuning import tuning_allowed
from imaradesk.knowledge_index.vector_index import FaissVectorIndex
from imaradesk.storage.db import Database
from imaradesk.storage.knowledge_repository import (
    KnowledgeData,
    answer_translations,
    question_translations,
)
from imaradesk.storage.organization_repository import Organizations

EMBED_BATCH = 256
# Calibrating the answer model of a large knowledge base takes a while (about 20 s for 10,000
# phrasings on two cores). Meanwhile the new knowledge is answerable under a strict rule: a
# question close to a phrasing as written, and clearly closer to it than to any other entry.
INTERIM_MIN_PHRASINGS = 2000
INTERIM_MIN_SIMILARITY = 0.8
INTERIM_MIN_MARGIN = 0.1
INTERIM_METHOD = "similarity_margin_interim"

# (phrasing id, entry id, text)
Phrasing = tuple[int, int, str]


@dataclass(frozen=True)
class KnowledgeRows:
    """What a snapshot is built from: the enabled entries and their phrasings, by id, and
    whether the organization's training choices let its classifier be tuned on them."""

    revision: int
    entries: dict[int, EntryInfo]
    phrasings: list[Phrasing]
    # No default: whoever builds rows decides, so a forgotten flag cannot train on an
    # organization that opted out.
    tuning: bool


@dataclass(frozen=True)
class Prepared:
    """A snapshot embedded and indexed, waiting for its answer model."""

    org_id: int
    rows: KnowledgeRows
    vectors: np.ndarray
    index: FaissVectorIndex
    lexical: LexicalIndex | None
    digests: dict[int, str]
    embedded: int  # phrasings embedded (the others re-used their vectors)
    # A large knowledge base's snapshot under the strict interim rule, to answer from while
    # the answer model is calibrated; None for a small one.
    interim: OrgKnowledge | None
    languages: tuple[tuple[str, float], ...] = ()

    def snapshot(self, model: AnswerModel, report: TrainingReport) -> OrgKnowledge:
        return assemble_snapshot(
            org_id=self.org_id,
            revision=self.rows.revision,
            index=self.index,
            entry_of={p[0]: p[1] for p in self.rows.phrasings},
            text_digest_of=self.digests,
            entries=self.rows.entries,
            model=model,
            report=report,
            lexical=self.lexical,
            languages=self.languages,
        )


def read_knowledge(database: Database, org_id: int) -> KnowledgeRows:
    """The organization's revision, enabled entries, phrasings and tuning choice, in one read."""
    with database.read() as session:
        data = KnowledgeData(session, org_id)
        revision = data.revision()
        # In the read that gives the revision: a flag change bumps it, so the two agree.
        org = Organizations(session).get(org_id)
        assert org is not None  # revision() raised LookupError for a missing one
        tuning = tuning_allowed(
            exclude_from_training=org.exclude_from_training, tuning_opt_in=org.tuning_opt_in
        )
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
                language=e.language,
                translations=answer_translations(e),
                question_translations=question_translations(e),
            )
            for e in data.entries(enabled_only=True)
            if e.id is not None
        }
        phrasings = [
            (p.id, p.entry_id, p.text)
            for p in data.phrasings(enabled_only=True)
            if p.id is not None
        ]
    return KnowledgeRows(revision, entries, phrasings, tuning)


def text_digest(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


class IndexBuilder:
    def __init__(
        self,
        *,
        embedder: Embedder,
        answering: AnsweringSettings,
        languages: LanguageOf | None = None,
        reads: frozenset[str] | None = None,
    ) -> None:
        self._embedder = embedder
        self._answering = answering
        self._languages = languages
        # The languages the encoder reads (None: all). MiniLM reads Swahili as noise: measured
        # on the demo FAQ, its Swahili phrasings in the English index cut the English questions
        # answered right from 0.81 to 0.56 (its calibration learnt from unreadable phrasings).
        self._reads = reads

    def prepare(
        self,
        org_id: int,
        rows: KnowledgeRows,
        *,
        previous: OrgKnowledge | None,
        progress: ProgressCallback | None,
    ) -> Prepared:
        """Embed (what changed) and index; a large knowledge base gets its interim snapshot."""
        languages, rows = self._read_languages(rows)
        phrasings = rows.phrasings
        ids = np.array([p[0] for p in phrasings], dtype=np.int64)
        digests = {p[0]: text_digest(p[2]) for p in phrasings}
        vectors, embedded = self._vectors(phrasings, digests, previous, progress)
        index = FaissVectorIndex(self._embedder.dimension)
        index.upsert(ids.tolist(), vectors)
        # Built from scratch every time, like the model: cheap (10,000 phrasings in well under
        # a second), and a removed phrasing's words cannot linger in it.
        hybrid = self._answering.hybrid
        lexical = (
            LexicalIndex.build(
                [(p[0], p[2]) for p in phrasings], subwords=self._answering.lexical_subwords
            )
            if hybrid
            else None
        )
        prepared = Prepared(
            org_id, rows, vectors, index, lexical, digests, embedded, None, languages
        )
        if len(phrasings) < INTERIM_MIN_PHRASINGS:
            return prepared
        interim = SimilarityMarginModel(
            INTERIM_MIN_SIMILARITY, INTERIM_MIN_MARGIN, method=INTERIM_METHOD
        )
        report = TrainingReport(
            interim.method, len(phrasings), len(rows.entries), 0, 0, None, None, None
        )
        return replace(prepared, interim=prepared.snapshot(interim, report))

    def _read_languages(
        self, rows: KnowledgeRows
    ) -> tuple[tuple[tuple[str, float], ...], KnowledgeRows]:
        """The FAQ's language shares, and the rows this encoder indexes: with ``reads`` set,
        the phrasings in those languages, and every phrasing of an entry that has none."""
        if self._languages is None:
            return entry_language_shares(rows.phrasings, None), rows
        language_of = {p[0]: self._languages.detect(p[2]) for p in rows.phrasings}
        shares = entry_language_shares(rows.phrasings, language_of.__getitem__)
        if self._reads is None:
            return shares, rows
        readable = {p[1] for p in rows.phrasings if language_of[p[0]] in self._reads}
        kept = [
            p for p in rows.phrasings if language_of[p[0]] in self._reads or p[1] not in readable
        ]
        return shares, replace(rows, phrasings=kept)

    def train(self, prepared: Prepared) -> OrgKnowledge:
        """Fit the answer model (the slow step) and make the final snapshot.

        A small knowledge base's classifier goes through a contrastive head trained on its
        phrasings (tuning.py) when ``prepared.rows.tuning`` says the organization allows it.
        """
        answering = self._answering
        phrasings = prepared.rows.phrasings
        model, report = train_answer_model(
            prepared.vectors,
            [p[1] for p in phrasings],
            max_wrong_answer_rate=answering.max_wrong_answer_rate,
            fallback_min_similarity=answering.fallback_min_similarity,
            fallback_min_margin=answering.fallback_min_margin,
            search_k=answering.search_candidates,
            texts=[p[2] for p in phrasings] if answering.hybrid else None,
            lexical_subwords=answering.lexical_subwords,
            tune=prepared.rows.tuning,
        )
        return prepared.snapshot(model, report)

    def _vectors(
        self,
        phrasings: Sequence[Phrasing],
        digests: dict[int, str],
        previous: OrgKnowledge | None,
        progress: ProgressCallback | None,
    ) -> tuple[np.ndarray, int]:
        """One vector per phrasing (re-used when its text is unchanged), and how many were new."""
        vectors = np.zeros((len(phrasings), self._embedder.dimension), dtype=np.float32)
        reusable: set[int] = set()
        if previous is not None:
            stored = set(previous.index.ids().tolist())
            reusable = {
                i for i, d in digests.items() if i in stored and previous.text_digest_of.get(i) == d
            }
        reuse_rows = [i for i, p in enumerate(phrasings) if p[0] in reusable]
        if reuse_rows and previous is not None:
            vectors[reuse_rows] = previous.index.vectors([phrasings[i][0] for i in reuse_rows])
        # By length: each batch pads to its longest text, so mixing lengths wastes most of it
        # (10,000 BANKING77 phrasings embed about a third faster sorted).
        todo = sorted(
            (i for i, p in enumerate(phrasings) if p[0] not in reusable),
            key=lambda i: len(phrasings[i][2]),
        )
        if progress:
            progress(0, len(todo))
        for start in range(0, len(todo), EMBED_BATCH):
            rows = todo[start : start + EMBED_BATCH]
            vectors[rows] = self._embedder.embed([phrasings[i][2] for i in rows])
            if progress:
                progress(len(rows), len(todo))
        return vectors, len(todo)

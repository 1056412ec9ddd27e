"""The knowledge index's value types: settings, snapshots, search results, import reports.

Kept apart from the code that builds, stores and searches snapshots, so that each of those
modules (and every caller) can import them without importing the others.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from imaradesk.knowledge_index.answer_models import AnswerModel, Judgement
from imaradesk.knowledge_index.calibration import TrainingReport
from imaradesk.knowledge_index.lexical import LexicalIndex
from imaradesk.knowledge_index.vector_index import FaissVectorIndex
from imaradesk.storage.knowledge_repository import KnowledgeChange

ProgressCallback = Callable[[int, int], None]
RetrievalMode = Literal["dense", "hybrid"]


@dataclass(frozen=True)
class AnsweringSettings:
    max_wrong_answer_rate: float
    min_answer_similarity: float
    fallback_min_similarity: float
    fallback_min_margin: float
    search_candidates: int
    # "hybrid": BM25 over the phrasings beside the dense index, fused by the answer model.
    retrieval_mode: RetrievalMode = "hybrid"
    # BM25 also over word endings (lexical.tokenize): for the multilingual encoder's Swahili.
    lexical_subwords: bool = False

    @property
    def hybrid(self) -> bool:
        return self.retrieval_mode == "hybrid"

    def fingerprint(self) -> dict[str, float | str]:
        # Named only when on, so that files built before the setting existed still match.
        subwords: dict[str, float | str] = (
            {"lexical_subwords": "on"} if self.lexical_subwords else {}
        )
        return {
            **subwords,
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
    # The language ``answer`` is written in, and the answer in other languages, sorted by code.
    language: str = "en"
    translations: tuple[tuple[str, str], ...] = ()
    question_translations: tuple[tuple[str, str], ...] = ()

    def question_in(self, language: str) -> str:
        """The question as the FAQ asks it in ``language``, else as it is written."""
        return dict(self.question_translations).get(language, self.question)

    def answer_in(self, language: str) -> tuple[str, str]:
        """The answer in ``language`` when the entry has it, else the primary answer; with the
        language of the text returned."""
        if language == self.language:
            return self.answer, self.language
        for code, text in self.translations:
            if code == language:
                return text, code
        return self.answer, self.language

    @property
    def languages(self) -> tuple[str, ...]:
        return (self.language, *(code for code, _ in self.translations))


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
    # The encoder that made ``query`` (Embedder.name): compare it only with vectors of the same.
    encoder: str = ""
    # How it was judged: "primary" (the main encoder, the organization's calibrated model),
    # "multilingual" (the multilingual encoder, calibrated on phrasings in the question's
    # language) or "cross_lingual" (the multilingual encoder, a question in a language the
    # FAQ has no phrasings in: a fixed rule measured on the development set judges).
    route: str = "primary"

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
    # For each language, the share of entries with a phrasing in it (phrasing_languages).
    languages: tuple[tuple[str, float], ...] = ()

    def language_share(self, language: str) -> float:
        return dict(self.languages).get(language, 0.0)


def assemble_snapshot(
    *,
    org_id: int,
    revision: int,
    index: FaissVectorIndex,
    entry_of: dict[int, int],
    text_digest_of: dict[int, str],
    entries: dict[int, EntryInfo],
    model: AnswerModel,
    report: TrainingReport,
    lexical: LexicalIndex | None,
    languages: tuple[tuple[str, float], ...] = (),
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
        org_id=org_id,
        revision=revision,
        index=index,
        entry_of=entry_of,
        text_digest_of=text_digest_of,
        entries=entries,
        model=model,
        report=report,
        lexical=lexical,
        lexical_entries=lexical_entries,
        phrasings_of={e: tuple(p) for e, p in phrasings_of.items()},
        languages=languages,
    )


@dataclass(frozen=True)
class ImportReport:
    sources: tuple[str, ...]
    change: KnowledgeChange
    entries: int
    phrasings: int
    training: TrainingReport
    seconds: float

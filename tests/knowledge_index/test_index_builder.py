"""Building a snapshot: vectors re-used for unchanged texts only, the interim rule for big ones."""

from __future__ import annotations

import numpy as np
import pytest

from imaradesk.knowledge_index import index_builder
from imaradesk.knowledge_index.index_builder import IndexBuilder, text_digest
from tests.helpers import CountingEmbedder
from tests.knowledge_index.snapshots import ANSWERING, DENSE, PHRASINGS, build, rows


def test_a_snapshot_holds_every_phrasing_and_its_entry() -> None:
    snapshot = build()
    assert snapshot.entry_of == {p: e for p, e, _ in PHRASINGS}
    assert snapshot.text_digest_of == {p: text_digest(t) for p, _, t in PHRASINGS}
    assert snapshot.phrasings_of == {1: (10, 11), 2: (20, 21), 3: (30,), 4: (40,)}
    assert snapshot.lexical is not None
    assert snapshot.lexical_entries is not None
    assert sorted(snapshot.lexical_entries.tolist()) == sorted(e for _, e, _ in PHRASINGS)
    assert snapshot.report.method == "similarity_margin"  # too few phrasings to calibrate
    assert build(DENSE).lexical is None


def test_only_new_or_changed_texts_are_embedded() -> None:
    embedder = CountingEmbedder()
    first = build(embedder=embedder)
    embedder.embedded.clear()
    changed = [(p, e, "I lost my PIN" if p == 21 else t) for p, e, t in PHRASINGS]
    changed.append((50, 4, "Fuliza limit"))
    second = build(embedder=embedder, knowledge=rows(2, changed), previous=first)
    assert sorted(embedder.embedded) == ["Fuliza limit", "I lost my PIN"]
    kept = [10, 11, 20, 30, 40]
    assert np.array_equal(second.index.vectors(kept), first.index.vectors(kept))


def test_a_reused_id_with_another_text_is_embedded_again() -> None:
    embedder = CountingEmbedder()
    first = build(embedder=embedder)
    embedder.embedded.clear()
    reused = [(p, e, "Where is the nearest agent?" if p == 30 else t) for p, e, t in PHRASINGS]
    build(embedder=embedder, knowledge=rows(2, reused), previous=first)
    assert embedder.embedded == ["Where is the nearest agent?"]


def test_progress_counts_what_is_embedded() -> None:
    seen: list[tuple[int, int]] = []
    builder = IndexBuilder(embedder=CountingEmbedder(), answering=ANSWERING)
    prepared = builder.prepare(7, rows(), previous=None, progress=lambda d, t: seen.append((d, t)))
    assert seen == [(0, len(PHRASINGS)), (len(PHRASINGS), len(PHRASINGS))]
    assert prepared.embedded == len(PHRASINGS)


def test_a_large_knowledge_base_gets_an_interim_snapshot_under_the_strict_rule(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    builder = IndexBuilder(embedder=CountingEmbedder(), answering=ANSWERING)
    assert builder.prepare(7, rows(), previous=None, progress=None).interim is None
    monkeypatch.setattr(index_builder, "INTERIM_MIN_PHRASINGS", len(PHRASINGS))
    prepared = builder.prepare(7, rows(), previous=None, progress=None)
    assert prepared.interim is not None
    assert prepared.interim.model.method == index_builder.INTERIM_METHOD
    assert prepared.interim.entry_of == builder.train(prepared).entry_of

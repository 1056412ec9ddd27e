"""Sealed snapshot files: a round trip, and every kind of file it must refuse."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from imaradesk.knowledge_index.embedder import HashingEmbedder
from imaradesk.knowledge_index.retrieval_types import AnsweringSettings, OrgKnowledge
from imaradesk.knowledge_index.snapshot_store import (
    LEXICAL_FILE,
    MANIFEST_FILE,
    MODEL_FILE,
    VECTORS_FILE,
    SnapshotStore,
    fingerprint,
)
from tests.knowledge_index.snapshots import ANSWERING, DENSE, FakeSealer, build


def store(
    tmp_path: Path,
    sealer: FakeSealer,
    answering: AnsweringSettings = ANSWERING,
    embedder: HashingEmbedder | None = None,
) -> SnapshotStore:
    return SnapshotStore(
        sealer=sealer,
        index_dir=tmp_path,
        fingerprint=fingerprint(embedder or HashingEmbedder(), answering),
        hybrid=answering.hybrid,
    )


def assert_same(loaded: OrgKnowledge | None, saved: OrgKnowledge) -> None:
    assert loaded is not None
    assert (loaded.org_id, loaded.revision) == (saved.org_id, saved.revision)
    assert loaded.entries == saved.entries
    assert loaded.entry_of == saved.entry_of
    assert loaded.text_digest_of == saved.text_digest_of
    assert loaded.report == saved.report
    assert loaded.phrasings_of == saved.phrasings_of
    ids = sorted(saved.entry_of)
    assert np.array_equal(loaded.index.vectors(ids), saved.index.vectors(ids))
    assert loaded.model.to_bytes() == saved.model.to_bytes()
    assert loaded.lexical is not None and saved.lexical is not None
    assert loaded.lexical.to_bytes() == saved.lexical.to_bytes()
    assert loaded.lexical_entries is not None and saved.lexical_entries is not None
    assert np.array_equal(loaded.lexical_entries, saved.lexical_entries)


def test_a_saved_snapshot_loads_back_the_same(tmp_path: Path) -> None:
    sealer = FakeSealer()
    snapshot = build()
    store(tmp_path, sealer).save(snapshot)
    assert sorted(p.name for p in (tmp_path / "org-7").iterdir()) == sorted(
        [VECTORS_FILE, MODEL_FILE, LEXICAL_FILE, MANIFEST_FILE]
    )
    # Every file sealed for its organization and its name; the manifest last.
    assert [c for _, c in sealer.sealed][-1] == f"index/{MANIFEST_FILE}"
    assert {o for o, _ in sealer.sealed} == {7}
    assert_same(store(tmp_path, sealer).load(7), snapshot)


def test_nothing_saved_loads_nothing(tmp_path: Path) -> None:
    assert store(tmp_path, FakeSealer()).load(7) is None


def test_a_changed_byte_in_any_file_is_refused(tmp_path: Path) -> None:
    sealer = FakeSealer()
    store(tmp_path, sealer).save(build())
    for name in (VECTORS_FILE, MODEL_FILE, LEXICAL_FILE, MANIFEST_FILE):
        path = tmp_path / "org-7" / name
        original = path.read_bytes()
        tampered = bytearray(original)
        tampered[-1] ^= 0x01
        path.write_bytes(bytes(tampered))
        assert store(tmp_path, sealer).load(7) is None, name
        path.write_bytes(original)
    assert store(tmp_path, sealer).load(7) is not None


def test_files_of_another_organization_or_another_file_name_are_refused(tmp_path: Path) -> None:
    sealer = FakeSealer()
    store(tmp_path, sealer).save(build(org_id=7))
    (tmp_path / "org-7").rename(tmp_path / "org-8")
    assert store(tmp_path, sealer).load(8) is None

    store(tmp_path, sealer).save(build(org_id=7))
    directory = tmp_path / "org-7"
    vectors, model = (directory / VECTORS_FILE).read_bytes(), (directory / MODEL_FILE).read_bytes()
    (directory / VECTORS_FILE).write_bytes(model)
    (directory / MODEL_FILE).write_bytes(vectors)
    assert store(tmp_path, sealer).load(7) is None


def test_files_built_with_another_embedder_or_settings_are_not_used(tmp_path: Path) -> None:
    sealer = FakeSealer()
    store(tmp_path, sealer).save(build())
    assert store(tmp_path, sealer, embedder=HashingEmbedder(128)).load(7) is None
    stricter = AnsweringSettings(**{**ANSWERING.__dict__, "max_wrong_answer_rate": 0.01})
    assert store(tmp_path, sealer, answering=stricter).load(7) is None
    assert store(tmp_path, sealer).load(7) is not None


def test_a_dense_snapshot_removes_the_lexical_file_an_earlier_hybrid_one_left(
    tmp_path: Path,
) -> None:
    sealer = FakeSealer()
    store(tmp_path, sealer).save(build())
    assert (tmp_path / "org-7" / LEXICAL_FILE).exists()
    dense = build(DENSE)
    store(tmp_path, sealer, answering=DENSE).save(dense)
    assert not (tmp_path / "org-7" / LEXICAL_FILE).exists()
    loaded = store(tmp_path, sealer, answering=DENSE).load(7)
    assert loaded is not None and loaded.lexical is None and loaded.entries == dense.entries


def test_a_hybrid_store_refuses_a_snapshot_without_its_lexical_file(tmp_path: Path) -> None:
    sealer = FakeSealer()
    store(tmp_path, sealer).save(build())
    (tmp_path / "org-7" / LEXICAL_FILE).unlink()
    assert store(tmp_path, sealer).load(7) is None


def test_erase_removes_the_organizations_files_only(tmp_path: Path) -> None:
    sealer = FakeSealer()
    store(tmp_path, sealer).save(build(org_id=7))
    store(tmp_path, sealer).save(build(org_id=8))
    store(tmp_path, sealer).erase(7)
    assert not (tmp_path / "org-7").exists()
    assert store(tmp_path, sealer).load(8) is not None

"""Sealed persistence of knowledge snapshots under ``<index_dir>/org-<id>/``.

Every file is sealed with the organization's data key, like its rows: the index holds the
knowledge base's text and vectors derived from it. The manifest is written last and names the
embedder and answering settings the files were built with; files of another configuration,
unreadable or inconsistent ones are ignored (the caller rebuilds from the database).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from imaradesk.knowledge_index.answer_models import load_answer_model
from imaradesk.knowledge_index.calibration import TrainingReport
from imaradesk.knowledge_index.embedder import Embedder
from imaradesk.knowledge_index.errors import IndexFileError
from imaradesk.knowledge_index.lexical import LexicalIndex
from imaradesk.knowledge_index.retrieval_types import (
    AnsweringSettings,
    EntryInfo,
    OrgKnowledge,
    assemble_snapshot,
)
from imaradesk.knowledge_index.vector_index import FaissVectorIndex
from imaradesk.storage.encryption import EncryptionError

log = logging.getLogger(__name__)

FORMAT = 4
VECTORS_FILE = "vectors.faiss"
MODEL_FILE = "answer_model.npz"
LEXICAL_FILE = "lexical.bm25"
MANIFEST_FILE = "manifest.json"


class Sealer(Protocol):
    """Seals and opens bytes with an organization's data key (``storage.encryption.Keystore``)."""

    def seal_bytes(self, org_id: int, data: bytes, context: str) -> bytes: ...

    def open_bytes(self, org_id: int, blob: bytes, context: str) -> bytes:
        """Raises:
        EncryptionError: the blob was not sealed for this organization and context.
        """
        ...


def fingerprint(embedder: Embedder, answering: AnsweringSettings) -> dict[str, object]:
    """What a persisted snapshot must have been built with to be used."""
    return {
        "embedder": embedder.name,
        "dimension": embedder.dimension,
        "answering": answering.fingerprint(),
        "format": FORMAT,
    }


class SnapshotStore:
    def __init__(
        self, *, sealer: Sealer, index_dir: Path, fingerprint: Mapping[str, object], hybrid: bool
    ) -> None:
        self._sealer = sealer
        self._index_dir = index_dir
        self._fingerprint = dict(fingerprint)
        self._hybrid = hybrid

    def org_dir(self, org_id: int) -> Path:
        return self._index_dir / f"org-{org_id}"

    def save(self, snapshot: OrgKnowledge) -> None:
        org_id = snapshot.org_id
        directory = self.org_dir(org_id)
        directory.mkdir(parents=True, exist_ok=True)
        self._write_sealed(org_id, directory / VECTORS_FILE, snapshot.index.to_bytes())
        self._write_sealed(org_id, directory / MODEL_FILE, snapshot.model.to_bytes())
        if snapshot.lexical is not None:
            self._write_sealed(org_id, directory / LEXICAL_FILE, snapshot.lexical.to_bytes())
        else:
            # Left by an earlier hybrid build: it holds the phrasings' words, which may since
            # have been removed.
            (directory / LEXICAL_FILE).unlink(missing_ok=True)
        manifest = {**self._fingerprint, **_manifest_of(snapshot)}
        # Written last: a manifest names a complete set of files.
        self._write_sealed(org_id, directory / MANIFEST_FILE, json.dumps(manifest).encode())

    def load(self, org_id: int, *, min_revision: int | None = None) -> OrgKnowledge | None:
        """The persisted snapshot, or None when missing, of another configuration, unreadable
        or (only its manifest read) older than ``min_revision``."""
        directory = self.org_dir(org_id)
        try:
            manifest = json.loads(self._read_sealed(org_id, directory / MANIFEST_FILE))
        except (OSError, ValueError, EncryptionError):
            return None
        if any(manifest.get(k) != v for k, v in self._fingerprint.items()):
            return None
        if min_revision is not None and int(manifest.get("revision", -1)) < min_revision:
            return None
        try:
            index = FaissVectorIndex.from_bytes(self._read_sealed(org_id, directory / VECTORS_FILE))
            model = load_answer_model(self._read_sealed(org_id, directory / MODEL_FILE))
            lexical = (
                LexicalIndex.from_bytes(self._read_sealed(org_id, directory / LEXICAL_FILE))
                if self._hybrid
                else None
            )
        except (OSError, ValueError, IndexFileError, EncryptionError) as e:
            log.warning(
                "ignoring unreadable index files", extra={"org_id": org_id, "error": str(e)}
            )
            return None
        entry_of = {int(k): int(v) for k, v in manifest["entry_of"].items()}
        if len(index) != len(entry_of):
            return None
        if lexical is not None and set(lexical.ids().tolist()) != set(entry_of):
            return None
        entries = {int(k): _entry_of(int(k), v) for k, v in manifest["entries"].items()}
        return assemble_snapshot(
            org_id=org_id,
            revision=int(manifest["revision"]),
            index=index,
            entry_of=entry_of,
            text_digest_of={int(k): v for k, v in manifest["text_digest_of"].items()},
            entries=entries,
            model=model,
            report=TrainingReport(**manifest["report"]),
            lexical=lexical,
            languages=tuple((str(c), float(s)) for c, s in manifest.get("languages", [])),
        )

    def erase(self, org_id: int) -> None:
        shutil.rmtree(self.org_dir(org_id), ignore_errors=True)

    def _write_sealed(self, org_id: int, path: Path, data: bytes) -> None:
        _atomic_write(path, self._sealer.seal_bytes(org_id, data, f"index/{path.name}"))

    def _read_sealed(self, org_id: int, path: Path) -> bytes:
        return self._sealer.open_bytes(org_id, path.read_bytes(), f"index/{path.name}")


def _manifest_of(snapshot: OrgKnowledge) -> dict[str, Any]:
    return {
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
                e.language,
                [list(t) for t in e.translations],
                [list(t) for t in e.question_translations],
            ]
            for e in snapshot.entries.values()
        },
        "report": snapshot.report.__dict__,
        "languages": [list(pair) for pair in snapshot.languages],
    }


def _entry_of(entry_id: int, v: list[Any]) -> EntryInfo:
    # Manifests written before answers had languages have seven fields.
    language = v[7] if len(v) > 7 else "en"
    translations = tuple((str(c), str(t)) for c, t in v[8]) if len(v) > 8 else ()
    questions = tuple((str(c), str(t)) for c, t in v[9]) if len(v) > 9 else ()
    return EntryInfo(
        entry_id,
        v[0],
        v[1],
        v[2],
        v[3],
        source=v[4],
        kind=v[5],
        location=v[6],
        language=language,
        translations=translations,
        question_translations=questions,
    )


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

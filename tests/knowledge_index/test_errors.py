"""One hierarchy of knowledge errors; the old import paths and base classes keep working."""

from __future__ import annotations

import pytest

from imaradesk.knowledge_index import (
    curation,
    documents,
    embedder,
    errors,
    ingestion,
    lexical,
    vector_index,
)
from imaradesk.storage import repositories
from imaradesk.storage.knowledge_repository import EntryConflict as StoredEntryConflict


def test_every_error_is_a_knowledge_error_and_keeps_its_old_base() -> None:
    refusals = [errors.ImportFormatError, errors.UploadRejected, errors.EntryInvalid]
    for cls in refusals:
        assert issubclass(cls, errors.KnowledgeError) and issubclass(cls, ValueError)
    for cls in (errors.VectorIndexError, errors.LexicalIndexError):
        assert issubclass(cls, errors.IndexFileError)
    assert issubclass(errors.EmbedderError, errors.KnowledgeError)


def test_old_import_paths_name_the_same_classes() -> None:
    assert documents.ImportFormatError is errors.ImportFormatError
    assert ingestion.UploadRejected is errors.UploadRejected
    assert curation.EntryInvalid is errors.EntryInvalid
    assert embedder.EmbedderError is errors.EmbedderError
    assert lexical.LexicalIndexError is errors.LexicalIndexError
    assert vector_index.VectorIndexError is errors.VectorIndexError
    assert repositories.EntryConflict is StoredEntryConflict


def test_an_entry_conflict_is_caught_as_storages_too() -> None:
    stored = StoredEntryConflict("balance", "other.csv", 3)
    with pytest.raises(StoredEntryConflict) as caught:
        raise errors.EntryConflict.of(stored) from stored
    assert isinstance(caught.value, errors.KnowledgeError)
    assert (caught.value.external_id, caught.value.owner, caught.value.line) == (
        "balance",
        "other.csv",
        3,
    )
    assert str(caught.value) == str(stored)


def test_import_format_error_names_the_file_and_line() -> None:
    assert str(errors.ImportFormatError("faq.csv", 4, "the question is empty")) == (
        "faq.csv, line 4: the question is empty"
    )
    assert str(errors.ImportFormatError("faq.csv", 0, "the file is empty")) == (
        "faq.csv: the file is empty"
    )

"""Every error the knowledge index raises, in one place.

::

    KnowledgeError
     ├── ImportFormatError      a file cannot be imported (names the file and the line)
     ├── EntryConflict          a file names an entry another document or a person owns
     ├── UploadRejected         an upload is refused before it is queued
     ├── EntryInvalid           a knowledge manager's edit is refused
     ├── EmbedderError          the embedding model cannot be loaded or used
     └── IndexFileError         a persisted index cannot be read or written
          ├── VectorIndexError
          └── LexicalIndexError

The refusals of input are also ``ValueError`` (as they always were), and ``EntryConflict`` is
also storage's ``EntryConflict``: storage detects the conflict, the import translates it, and
callers catching either class keep working.
"""

from __future__ import annotations

from imaradesk.storage.knowledge_repository import EntryConflict as StoredEntryConflict


class KnowledgeError(Exception):
    """Base of the knowledge index's errors."""


class ImportFormatError(KnowledgeError, ValueError):
    """A file cannot be imported; ``line`` is 1-based (0 when the whole file is at fault)."""

    def __init__(self, source: str, line: int, message: str) -> None:
        self.source = source
        self.line = line
        self.message = message
        where = f"{source}, line {line}" if line else source
        super().__init__(f"{where}: {message}")


class EntryConflict(KnowledgeError, StoredEntryConflict):
    """A file names an entry that another document (or a person, by hand) already owns."""

    @classmethod
    def of(cls, stored: StoredEntryConflict) -> EntryConflict:
        return cls(stored.external_id, stored.owner, stored.line)


class UploadRejected(KnowledgeError, ValueError):
    """The upload is refused before it is queued (type, size, name, emptiness)."""


class EntryInvalid(KnowledgeError, ValueError):
    """A knowledge manager's entry is refused (empty, too long, too many phrasings)."""


class EmbedderError(KnowledgeError):
    """The embedding model could not be loaded or used."""


class IndexFileError(KnowledgeError):
    """A persisted index could not be read or written."""


class VectorIndexError(IndexFileError):
    """The index could not be read, written or searched."""


class LexicalIndexError(IndexFileError):
    """The lexical index could not be read."""

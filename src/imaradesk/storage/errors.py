"""Errors of the storage package, so that callers never need to import SQLAlchemy to catch one.

StorageError
├── AppendOnlyViolation   a row of an append-only table was changed or deleted
├── DuplicateRecord       a unique key is taken (a retried delivery stored by another process)
├── IntegrityViolation    any other constraint refused the write
└── StorageUnavailable    the database did not answer or refused the statement
"""

from __future__ import annotations


class StorageError(Exception):
    """Base of storage errors."""


class AppendOnlyViolation(StorageError):
    """Somebody tried to change or delete a row of an append-only table."""


class DuplicateRecord(StorageError):
    """A unique key the write needed is already taken; nothing of the write was kept."""


class IntegrityViolation(StorageError):
    """A constraint other than a unique key refused the write; nothing of it was kept."""


class StorageUnavailable(StorageError):
    """The database could not carry out a read or a write; the cause is chained."""

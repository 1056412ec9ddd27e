"""Whether the database answers, for the readiness check."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from imaradesk.storage.db import Database
from imaradesk.storage.errors import StorageUnavailable


def check_database(database: Database) -> None:
    """Run a trivial query.

    Raises:
        StorageUnavailable: the database did not answer (the cause is chained).
    """
    try:
        with database.read() as session:
            session.execute(text("SELECT 1"))
    except SQLAlchemyError as e:
        raise StorageUnavailable("the database does not answer") from e

"""Alembic environment: the SQLModel metadata, and the connection handed over by storage.db."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

from imaradesk.storage import models  # noqa: F401 - registers the tables

target_metadata = SQLModel.metadata
connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through imaradesk (storage.db.Database.migrate)")

context.configure(
    connection=connection,
    target_metadata=target_metadata,
    # SQLite cannot ALTER most things in place: batch mode rebuilds the table.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()

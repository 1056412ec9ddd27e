"""Migrations and models agree, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlmodel import SQLModel

from imaradesk.storage.db import Database, migration_config


def test_migrating_an_empty_database_yields_exactly_the_models(database: Database) -> None:
    with database.engine.begin() as connection:
        # Start from nothing: the fixture created the schema from the models.
        SQLModel.metadata.drop_all(connection)
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
        command.upgrade(migration_config(connection), "head")
        differences = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    assert differences == []


def test_an_existing_database_is_upgraded_and_a_new_one_stamped(database: Database) -> None:
    with database.engine.connect() as connection:
        version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        assert version
        assert inspect(connection).has_table("privacyrequest")
    database.create_schema()  # an upgrade to head from head is a no-op, not an error

"""The Core table behind a SQLModel class, for statements that work on tables (bulk deletes,
upserts) rather than on objects."""

from __future__ import annotations

from sqlalchemy import Table, inspect
from sqlmodel import SQLModel


def table_of(model: type[SQLModel]) -> Table:
    table = inspect(model).local_table
    assert isinstance(table, Table)
    return table

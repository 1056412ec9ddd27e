"""Engine construction and transactions: the only place that begins and commits.

SQLite runs in WAL mode with ``BEGIN IMMEDIATE`` for write transactions, so that a
read-then-write turn never fails on a lock upgrade; PostgreSQL uses its defaults.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, SQLModel, create_engine

from imaradesk.storage import migrations, models, sealing  # noqa: F401 - sealing registers events
from imaradesk.storage.encryption import Keystore, MasterKeyring

# Re-exported: callers imported them from here before storage.errors existed.
from imaradesk.storage.errors import AppendOnlyViolation as AppendOnlyViolation
from imaradesk.storage.errors import DuplicateRecord, IntegrityViolation
from imaradesk.storage.errors import StorageError as StorageError

_APPEND_ONLY = (models.ConsentRecord,)


def _is_unique_violation(error: IntegrityError) -> bool:
    # PostgreSQL names the violation by SQLSTATE; SQLite only in its message.
    return getattr(error.orig, "sqlstate", None) == "23505" or "UNIQUE constraint failed" in str(
        error.orig
    )


def _constraint(error: IntegrityError) -> str:
    diag = getattr(error.orig, "diag", None)
    name = getattr(diag, "constraint_name", None)
    if name:
        return str(name)
    message = str(error.orig)
    return message.split(":", 1)[1].strip() if ":" in message else "unnamed"


def create_db_engine(url: str, *, echo: bool = False, **engine_kwargs: Any) -> Engine:
    """Build an engine for SQLite or PostgreSQL with the settings each needs."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            echo=echo,
            connect_args={"check_same_thread": False, "timeout": 30},
            **engine_kwargs,
        )
        _configure_sqlite(engine)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return create_engine(url, echo=echo, pool_pre_ping=True, **engine_kwargs)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's own is always DEFERRED).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        # Deleted rows are overwritten, not left in free pages: erasure must reach the file.
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


@event.listens_for(OrmSession, "before_flush")
def _refuse_append_only_changes(session: OrmSession, _ctx: Any, _instances: Any) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, _APPEND_ONLY) and (obj in session.deleted or session.is_modified(obj)):
            raise AppendOnlyViolation(f"{type(obj).__name__} rows are append-only")


def migration_config(connection: Connection, keystore: Keystore | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    config.attributes["connection"] = connection
    # Migrations that read sealed columns (0007 backfills outcome codes from reply text).
    config.attributes["keystore"] = keystore
    return config


class Database:
    """Owns the engine and the keystore; hands out short read and write transactions.

    Every session carries the keystore, so listed columns are sealed on write and opened on
    read (``storage.sealing``) and the application only sees plaintext, in memory.
    """

    def __init__(
        self, engine: Engine, *, keyring: MasterKeyring, encrypt_at_rest: bool = True
    ) -> None:
        self.engine = engine
        self._is_sqlite = engine.dialect.name == "sqlite"
        self._write_engine = (
            engine.execution_options(sqlite_begin="IMMEDIATE") if self._is_sqlite else engine
        )
        self.keystore = Keystore(
            engine, keyring, enabled=encrypt_at_rest, write_engine=self._write_engine
        )

    @classmethod
    def from_url(
        cls, url: str, *, keyring: MasterKeyring, encrypt_at_rest: bool = True
    ) -> Database:
        return cls(create_db_engine(url), keyring=keyring, encrypt_at_rest=encrypt_at_rest)

    def _session(self, engine: Engine) -> Session:
        return Session(engine, expire_on_commit=False, info={"keystore": self.keystore})

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def create_schema(self) -> None:
        """Bring the schema to the newest revision.

        A new database is created from the models and stamped with the newest migration; an
        existing one is migrated with Alembic.
        """
        with self.engine.begin() as connection:
            inspector = inspect(connection)
            config = migration_config(connection, self.keystore)
            if not inspector.has_table("organization"):
                SQLModel.metadata.create_all(connection)
                command.stamp(config, "head")
            elif inspector.has_table("alembic_version"):
                command.upgrade(config, "head")
            else:
                raise StorageError(
                    "this database was created before ImaraDesk had migrations; "
                    "move it aside (for example var/imaradesk.db) to start afresh"
                )

    def drop_schema(self) -> None:
        SQLModel.metadata.drop_all(self.engine)

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reads; closing it ends the transaction without committing.

        Objects it loaded stay usable, detached, after the block.
        """
        with self._session(self.engine) as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session whose changes are committed together when the block ends without error."""
        with self._session(self._write_engine) as session:
            try:
                yield session
                session.commit()
            except IntegrityError as e:
                session.rollback()
                # Not the driver's message: PostgreSQL's names the key's values.
                if _is_unique_violation(e):
                    raise DuplicateRecord(f"a unique key is taken ({_constraint(e)})") from e
                refused = f"a constraint refused the write ({_constraint(e)})"
                raise IntegrityViolation(refused) from e
            except BaseException:
                session.rollback()
                raise

    def dispose(self) -> None:
        self.engine.dispose()

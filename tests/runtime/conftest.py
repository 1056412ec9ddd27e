"""Private PostgreSQL and Redis for the fault tests (tests.runtime.private_services): one of
each per test module, stopped and removed after it, never the machine's shared services."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.runtime.private_services import PrivatePostgres, PrivateRedis


@pytest.fixture(scope="module")
def private_postgres() -> Iterator[PrivatePostgres]:
    postgres = PrivatePostgres()
    try:
        postgres.start()
        yield postgres
    finally:
        postgres.destroy()


@pytest.fixture(scope="module")
def private_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path_factory.mktemp("redis"))
    try:
        server.start()
        yield server
    finally:
        server.stop()

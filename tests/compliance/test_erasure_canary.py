"""Erasure really removes data from every store it reached.

A customer sends messages holding unique canary strings, asks for an export (a file), then
erases. Afterwards no byte of any canary, of the phone number, or of the sealed values that
held them remains in the database file (or PostgreSQL's tables), the FAISS files, Redis, the
export files or the logs.
"""

from __future__ import annotations

import io
import logging
import subprocess
from pathlib import Path
from urllib.parse import urlparse
from xml.etree import ElementTree

import pytest
import requests
from sqlalchemy import text

from imaradesk.runtime.log_config import configure_logging
from imaradesk.storage.db import Database
from tests.helpers import post_signed, seed_org, sqlite_file_bytes, twilio_form

CANARIES = ("CANARYA7731", "CANARYB9914", "CANARYNAMEZX")
PHONE = "+254733918273"
PHONE_FORMS = ("733918273", "733 918 273", PHONE)


def run_customer(server) -> tuple[str, list[str]]:
    """Talk, export, erase; return the export link path and the sealed bodies seen before."""
    url = f"{server.url}/channels/twilio/acme/messages"

    def say(body: str) -> list[str]:
        response = post_signed(
            url, twilio_form(body=body, sender=f"whatsapp:{PHONE}", ProfileName=CANARIES[2])
        )
        assert response.status_code == 200
        return [m.text or "" for m in ElementTree.fromstring(response.text).findall("Message")]

    say(f"Hello, my code is {CANARIES[0]}")
    say(f"and {CANARIES[1]}, how do I check my balance?")
    [export_reply] = say("send me my data")
    link = next(w for w in export_reply.split() if "/privacy/exports/" in w)
    path = urlparse(link).path
    assert CANARIES[0] in requests.get(f"{server.url}{path}", timeout=10).text
    db = server.services.database
    with db.engine.connect() as conn:
        sealed = [row[0] for row in conn.execute(text("SELECT body FROM message")).all()]
        sealed += [row[0] for row in conn.execute(text("SELECT address FROM contact")).all()]
    assert say("delete everything you have about me")[0].startswith("You asked us to erase")
    assert "erased" in say("YES")[0]
    return path, sealed


def assert_gone(blob: bytes, where: str, sealed: list[str]) -> None:
    for secret in (*CANARIES, *PHONE_FORMS):
        assert secret.encode() not in blob, f"{secret!r} remains in {where}"
    for value in sealed:
        assert value.encode() not in blob, (
            f"a sealed value of the erased contact remains in {where}"
        )


@pytest.mark.redis
def test_erasure_leaves_no_trace_on_sqlite_redis_files_and_logs(
    make_services, live_server_factory, sqlite_database: Database, redis_url, redis_client
) -> None:
    stream = io.StringIO()
    configure_logging(level=logging.DEBUG, stream=stream)
    try:
        services = make_services(sqlite_database, redis_url=redis_url)
        seed_org(services, "acme")
        server = live_server_factory(services)
        before_keys = set(redis_client.keys("*"))
        path, sealed = run_customer(server)
    finally:
        logging.getLogger().handlers.clear()
    assert len(sealed) >= 8

    with sqlite_database.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    db_file = Path(sqlite_database.engine.url.database)
    assert_gone(sqlite_file_bytes(db_file), "the SQLite file", sealed)
    for file in services.settings.data_dir.rglob("*"):
        if file.is_file() and file.suffix not in (".db", ".db-wal", ".db-shm"):
            assert_gone(
                file.read_bytes(), str(file.relative_to(services.settings.data_dir)), sealed
            )
    assert not list((services.settings.data_dir / "exports").rglob("*.sealed")), (
        "the export file is gone"
    )
    assert requests.get(f"{server.url}{path}", timeout=10).status_code == 410
    for key in redis_client.keys("*"):
        assert key in before_keys or not key.startswith(b"imaradesk:state:"), key
        value = redis_client.dump(key) or b""
        assert_gone(key + value, f"Redis key {key!r}", sealed)
    assert "contact erased" in stream.getvalue(), "the logs are really captured"
    assert_gone(stream.getvalue().encode(), "the logs", sealed)


@pytest.mark.postgres
def test_erasure_leaves_no_trace_in_postgres(
    make_services, live_server_factory, postgres_database: Database, postgres_schema
) -> None:
    services = make_services(postgres_database)
    seed_org(services, "acme")
    server = live_server_factory(services)
    _, sealed = run_customer(server)
    url, schema = postgres_schema
    dump = subprocess.run(
        ["pg_dump", "--data-only", f"--schema={schema}", f"--dbname={url}"],
        capture_output=True,
        check=True,
    ).stdout
    assert b"COPY" in dump and b"erasuretombstone" in dump
    assert_gone(dump, "the PostgreSQL tables", sealed)

"""Encryption at rest, proven from the outside: canary scans of every place data lands,
crypto-shredding through backups, wrong master keys, and key rotation under load."""

from __future__ import annotations

import io
import logging
import subprocess
import threading
from pathlib import Path

import pytest
import requests
from sqlalchemy import text
from sqlmodel import select

from imaradesk.runtime.log_config import configure_logging
from imaradesk.storage.backup import BackupError, BackupService
from imaradesk.storage.db import Database
from imaradesk.storage.encryption import (
    DecryptionError,
    KeyDestroyed,
    MasterKeyError,
    MasterKeyring,
    generate_master_key_spec,
)
from imaradesk.storage.models import Contact, Message
from imaradesk.storage.repositories import OrgData
from tests.conftest import TEST_MASTER_KEYS
from tests.helpers import post_signed, seed_org, sqlite_file_bytes, twilio_form

CANARY_MESSAGE = "CANARYMSG4417"
CANARY_NAME = "Canaryname Wambui"
CANARY_FAQ = "CANARYFAQ9902"
PHONE = "+254711987654"
PHONE_FRAGMENTS = ("711987654", "711 987 654")
FAQ = f"""question,answer
How do I reset my PIN?,Dial *483*7# ({CANARY_FAQ}).
How do I check my balance?,Dial *483*1#.
"""


def converse(server, token: str = "test-auth-token") -> None:
    url = f"{server.url}/channels/twilio/acme/messages"
    for body in (
        f"Hello, my name is {CANARY_NAME}. {CANARY_MESSAGE}",
        "How do I reset my PIN?",
        f"call me on {PHONE}",
    ):
        response = post_signed(
            url,
            twilio_form(body=body, sender=f"whatsapp:{PHONE}", ProfileName=CANARY_NAME),
            token=token,
        )
        assert response.status_code == 200


def assert_clean(blob: bytes, where: str) -> None:
    for secret in (CANARY_MESSAGE, CANARY_FAQ, "Canaryname", *PHONE_FRAGMENTS):
        assert secret.encode() not in blob, f"{secret!r} in clear in {where}"


def test_sqlite_index_backup_and_logs_hold_no_canary(
    make_services, live_server_factory, sqlite_database: Database, tmp_path: Path
) -> None:
    stream = io.StringIO()
    configure_logging(level=logging.DEBUG, stream=stream)
    try:
        services = make_services(sqlite_database)
        seed_org(services, "acme", faq_csv=FAQ)
        converse(live_server_factory(services))
        report = BackupService(
            sqlite_database, directory=tmp_path / "backups", clock=services.clock
        ).create()
    finally:
        logging.getLogger().handlers.clear()

    # The application still reads everything back in clear.
    org = services.organizations.by_slug("acme")
    with sqlite_database.read() as session:
        data = OrgData(session, org.id)
        contact = data.find_contact("whatsapp", PHONE)
        assert contact.display_name == CANARY_NAME
        assert any(CANARY_MESSAGE in m.body for m in data.messages_of(1))

    db_file = Path(sqlite_database.engine.url.database)
    raw = sqlite_file_bytes(db_file)
    assert b"enc1:" in raw, "the scan looks at a database that holds sealed values"
    assert_clean(raw, "the SQLite file")
    index_files = list((services.settings.index_dir).rglob("*"))
    # Vectors, the lexical (BM25) index, the answer model and the manifest, and the empty build
    # lock file beside them: all scanned.
    data_files = [p for p in index_files if p.is_file() and p.parent.name != "locks"]
    assert len(data_files) == 4
    for path in index_files:
        if path.is_file():
            assert_clean(path.read_bytes(), str(path))
    assert_clean(report.path.read_bytes(), "the backup")
    assert_clean(stream.getvalue().encode(), "the logs")


@pytest.mark.postgres
def test_postgres_tables_hold_no_canary(
    make_services, live_server_factory, postgres_database: Database, postgres_schema
) -> None:
    services = make_services(postgres_database)
    seed_org(services, "acme", faq_csv=FAQ)
    converse(live_server_factory(services))
    url, schema = postgres_schema
    dump = subprocess.run(
        ["pg_dump", "--data-only", f"--schema={schema}", f"--dbname={url}"],
        capture_output=True,
        check=True,
    ).stdout
    assert b"enc1:" in dump and b"COPY" in dump
    assert_clean(dump, "the PostgreSQL tables")


def test_values_cannot_be_moved_between_columns_or_organizations(
    make_services, sqlite_database: Database
) -> None:
    services = make_services(sqlite_database)
    seed_org(services, "acme")
    seed_org(services, "other")
    from tests.helpers import Chat

    Chat(services, "acme", sender="+254700000001").send("hello from acme")
    Chat(services, "other", sender="+254700000002").send("hello from other")
    with sqlite_database.engine.begin() as conn:
        bodies = dict(
            conn.execute(text("SELECT org_id, body FROM message WHERE direction = 'INBOUND'")).all()
        )
        # Put org 1's sealed body into org 2's row.
        conn.execute(
            text("UPDATE message SET body = :b WHERE org_id = 2 AND direction = 'INBOUND'"),
            {"b": bodies[1]},
        )
    with pytest.raises(DecryptionError):
        with sqlite_database.read() as session:
            session.exec(select(Message).where(Message.org_id == 2)).all()


def test_destroying_the_key_shreds_the_org_in_the_database_and_in_backups(
    make_services, live_server_factory, database: Database, tmp_path: Path
) -> None:
    services = make_services(database)
    acme = seed_org(services, "acme", faq_csv=FAQ)
    seed_org(services, "other")
    server = live_server_factory(services)
    converse(server)
    backups = BackupService(database, directory=tmp_path / "backups", clock=services.clock)
    backup = backups.create()
    export_link = services.exports.write(acme.id, 1, {"organization": "acme"})
    assert requests.get(f"{server.url}/privacy/exports/{export_link}", timeout=10).ok

    services.organizations.destroy_data(
        acme.id,
        knowledge=services.knowledge,
        state=services.state,
        exports=services.exports,
        uploads=services.ingestion,
    )
    with pytest.raises(KeyDestroyed):
        with database.read() as session:
            session.exec(select(Contact).where(Contact.org_id == acme.id)).all()
    assert post_signed(
        f"{server.url}/channels/twilio/acme/messages", twilio_form(body="hi")
    ).status_code in (403, 410)
    gone = requests.get(f"{server.url}/privacy/exports/{export_link}", timeout=10)
    assert gone.status_code == 410, "an export link made before the shredding opens nothing"
    assert not list((services.settings.data_dir / "exports").glob(f"org-{acme.id}/**/*.sealed"))

    backups.restore(backup.path)
    services.database.keystore.forget(acme.id)
    with pytest.raises(KeyDestroyed):
        with database.read() as session:
            session.exec(select(Message).where(Message.org_id == acme.id)).all()
    assert services.organizations.by_slug("acme").data_destroyed_at is not None
    # The other organization is restored and readable.
    other = services.organizations.by_slug("other")
    assert other.twilio_auth_token == "test-auth-token"


def test_a_backup_restores_what_it_holds(make_services, database: Database, tmp_path: Path) -> None:
    from tests.helpers import Chat

    services = make_services(database)
    org = seed_org(services, "acme")
    Chat(services, "acme").send("before the backup")
    backups = BackupService(database, directory=tmp_path / "backups", clock=services.clock)
    backup = backups.create()
    Chat(services, "acme").send("after the backup")
    backups.restore(backup.path)
    with database.read() as session:
        bodies = [
            m.body for m in session.exec(select(Message).where(Message.org_id == org.id)).all()
        ]
    assert "before the backup" in bodies and "after the backup" not in bodies
    # New keys get fresh ids after a restore.
    seed_org(services, "newcomer")


def test_backups_older_than_30_days_are_removed_and_damaged_ones_refused(
    make_services, sqlite_database: Database, tmp_path: Path, clock
) -> None:
    from datetime import timedelta

    services = make_services(sqlite_database)
    seed_org(services, "acme")
    backups = BackupService(sqlite_database, directory=tmp_path / "b", clock=clock)
    first = backups.create()
    clock.advance(timedelta(days=20))
    second = backups.create()
    clock.advance(timedelta(days=11))
    third = backups.create()
    assert third.pruned == (first.path,)
    assert not first.path.exists() and second.path.exists()
    damaged = bytearray(second.path.read_bytes())
    damaged[-10] ^= 0xFF
    second.path.write_bytes(bytes(damaged))
    with pytest.raises(BackupError, match="damaged"):
        backups.restore(second.path)


def test_a_wrong_or_missing_master_key_stops_the_service_with_a_clear_message(
    make_services, tmp_path: Path
) -> None:
    services = make_services()
    seed_org(services, "acme")
    database_url = services.settings.resolved_database_url
    from imaradesk.services import build_services
    from tests.conftest import make_settings

    wrong_same_id = generate_master_key_spec("test-master")
    with pytest.raises(MasterKeyError, match="not the key that wrapped"):
        build_services(
            make_settings(tmp_path, master_keys=wrong_same_id, database_url=database_url)
        )
    with pytest.raises(MasterKeyError, match="'test-master', which is not configured"):
        build_services(
            make_settings(
                tmp_path, master_keys=generate_master_key_spec("other"), database_url=database_url
            )
        )

    env = {
        "IMARADESK_DATA_DIR": str(tmp_path / "var"),
        "IMARADESK_MASTER_KEYS": wrong_same_id,
        "DATABASE_URL": database_url,
    }
    import os
    import sys

    result = subprocess.run(
        [str(Path(sys.executable).parent / "imaradesk"), "org", "list"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "cannot start" in result.stderr and "master key" in result.stderr


def test_rotating_the_master_key_under_load_fails_no_request(
    make_services, live_server_factory, sqlite_database: Database, tmp_path: Path
) -> None:
    new_spec = generate_master_key_spec("new-master")
    services = make_services(sqlite_database)
    for slug in ("acme", "beta", "gamma"):
        seed_org(services, slug)
    # Every process is given the new key first, the old one still after it.
    both = MasterKeyring.parse(f"{new_spec},{TEST_MASTER_KEYS}")
    serving = Database(sqlite_database.engine, keyring=both)
    from imaradesk.services import build_services
    from tests.conftest import make_settings

    server_services = build_services(
        make_settings(tmp_path, master_keys=f"{new_spec},{TEST_MASTER_KEYS}"),
        embedder=services.embedder,
        clock=services.clock,
        database=serving,
    )
    server = live_server_factory(server_services)

    failures: list[int] = []
    done = threading.Event()
    sent = [0]

    def customer(slug: str, n: int) -> None:
        i = 0
        while not done.is_set() and i < 200:
            i += 1
            form = twilio_form(
                body="How do I check my balance?", sender=f"whatsapp:+2547{n:02d}{i:06d}"
            )
            try:
                response = post_signed(f"{server.url}/channels/twilio/{slug}/messages", form)
            except requests.RequestException as e:
                failures.append(repr(e))
                continue
            sent[0] += 1
            if response.status_code != 200:
                failures.append(response.status_code)

    threads = [
        threading.Thread(target=customer, args=(slug, n))
        for n, slug in enumerate(("acme", "beta", "gamma"))
    ]
    for t in threads:
        t.start()
    while sent[0] < 10 and any(t.is_alive() for t in threads):
        threading.Event().wait(0.01)
    rotating = Database(sqlite_database.engine, keyring=both)
    assert rotating.keystore.rotate_master() == 3
    assert rotating.keystore.rotate_master() == 0, "nothing left to re-wrap"
    done.set()
    for t in threads:
        t.join()
    assert sent[0] > 0 and failures == []

    # A process that only knows the new key reads everything; one with only the old key cannot start.
    only_new = Database(sqlite_database.engine, keyring=MasterKeyring.parse(new_spec))
    assert only_new.keystore.verify() == 3
    with only_new.read() as session:
        assert len(session.exec(select(Contact)).all()) == sent[0]
    with pytest.raises(MasterKeyError):
        Database(
            sqlite_database.engine, keyring=MasterKeyring.parse(TEST_MASTER_KEYS)
        ).keystore.verify()


def test_a_customer_typing_something_that_looks_sealed_breaks_nothing(
    make_services, sqlite_database: Database
) -> None:
    from tests.helpers import Chat

    services = make_services(sqlite_database)
    org = seed_org(services, "acme")
    tricky = ["enc1:", "enc1:AAAAAQ", "enc1:" + "A" * 80]
    chat = Chat(services, "acme", sender="+254700000001")
    chat.send("I want to talk to an agent", profile_name="enc1:looks-sealed")
    for body in tricky:
        chat.send(body)
    with sqlite_database.engine.connect() as conn:
        bodies = [
            row[0]
            for row in conn.execute(text("SELECT body FROM message WHERE direction = 'INBOUND'"))
        ]
    assert not set(bodies) & set(tricky), "every value was sealed, tricky or not"
    assert all(b.startswith("enc1:") for b in bodies)
    with sqlite_database.read() as session:
        stored = [
            m.body
            for m in session.exec(select(Message).where(Message.direction == "inbound")).all()
        ]
    assert stored[-3:] == tricky
    assert [row.contact_label for row in services.desk.inbox(org)] == ["enc1:looks-sealed"]

"""Encrypted, consistent backups, kept for 30 days, and restores.

SQLite is copied with its online backup API; PostgreSQL with ``pg_dump``. The copy never holds
the data-key table (so destroying a key shreds the organization in every backup too) and is
encrypted in 1 MiB AES-GCM chunks under a key derived from the master key. A restore keeps the
live data keys: it replaces everything else.
"""

from __future__ import annotations

import os
import re
import sqlite3
import struct
import subprocess
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import text
from sqlmodel import Session

from imaradesk.runtime.clock import Clock
from imaradesk.storage.backup_repository import BackupData
from imaradesk.storage.db import Database

MAGIC = b"IMDKBAK1"
CHUNK = 1024 * 1024
RETENTION = timedelta(days=30)
_NAME = re.compile(r"^imaradesk-(\d{8}T\d{6}Z)\.backup$")
_HEADER = struct.Struct(">8sB64s16sI")  # magic, kind, master key id, nonce prefix, chunk count


class BackupError(Exception):
    pass


@dataclass(frozen=True)
class BackupReport:
    path: Path
    size: int
    seconds: float
    pruned: tuple[Path, ...]


@dataclass(frozen=True)
class RestoreReport:
    path: Path
    seconds: float
    keys_kept: int
    erasures_reapplied: int = 0


class BackupService:
    def __init__(self, database: Database, *, directory: Path, clock: Clock) -> None:
        self._db = database
        self._dir = directory
        self._clock = clock

    # -- backup ------------------------------------------------------------------------------

    def create(self) -> BackupReport:
        started = time.perf_counter()
        self._dir.mkdir(parents=True, exist_ok=True)
        now = self._clock.now()
        target = self._dir / f"imaradesk-{now:%Y%m%dT%H%M%SZ}.backup"
        with tempfile.TemporaryDirectory(prefix="imaradesk-backup-") as tmp:
            plain = Path(tmp) / "dump"
            kind = self._dump(plain)
            self._encrypt(plain, target, kind)
        return BackupReport(
            target, target.stat().st_size, time.perf_counter() - started, self.prune(now)
        )

    def prune(self, now: datetime) -> tuple[Path, ...]:
        removed = []
        for path in sorted(self._dir.glob("imaradesk-*.backup")):
            match = _NAME.match(path.name)
            if not match:
                continue
            taken = datetime.strptime(match.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=now.tzinfo)
            if now - taken > RETENTION:
                path.unlink()
                removed.append(path)
        return tuple(removed)

    def _dump(self, target: Path) -> int:
        if self._db.dialect == "sqlite":
            source_path = self._db.engine.url.database
            assert source_path
            source = sqlite3.connect(source_path)
            copy = sqlite3.connect(target)
            try:
                source.backup(copy)
                # The copy must not carry a single byte of a data key: drop the rows, then VACUUM
                # so that their pages are rewritten, not merely marked free.
                copy.execute("DELETE FROM orgkey")
                copy.commit()
                copy.execute("VACUUM")
            finally:
                copy.close()
                source.close()
            return 1
        schema = self._current_schema()
        command = [
            "pg_dump", "--format=custom", "--no-owner", "--no-privileges",
            f"--schema={schema}", f"--exclude-table-data={schema}.orgkey",
            f"--file={target}", f"--dbname={self._libpq_url()}",
        ]  # fmt: skip
        _run(command, password=self._db.engine.url.password)
        return 2

    # -- restore -----------------------------------------------------------------------------

    def restore(self, path: Path) -> RestoreReport:
        """Replace the database with a backup's contents, keeping the live data keys."""
        started = time.perf_counter()
        # Read without the keystore: nothing sealed is needed, and no key need be opened.
        with Session(self._db.engine) as session:
            live = BackupData(session).live_state()
        with tempfile.TemporaryDirectory(prefix="imaradesk-restore-") as tmp:
            plain = Path(tmp) / "dump"
            kind = self._decrypt(path, plain)
            self._db.engine.dispose()
            if kind == 1:
                self._restore_sqlite(plain)
            elif kind == 2:
                self._restore_postgres(plain)
            else:
                raise BackupError(f"unknown backup kind {kind}")
        self._db.engine.dispose()
        with self._db.write() as session:
            reapplied = BackupData(session).put_back(live, dialect=self._db.dialect)
        return RestoreReport(path, time.perf_counter() - started, len(live.keys), reapplied)

    def _restore_sqlite(self, plain: Path) -> None:
        if self._db.dialect != "sqlite":
            raise BackupError("this backup is of a SQLite database")
        live_path = self._db.engine.url.database
        assert live_path
        source = sqlite3.connect(plain)
        live = sqlite3.connect(live_path)
        try:
            source.backup(live)
        finally:
            live.close()
            source.close()

    def _restore_postgres(self, plain: Path) -> None:
        if self._db.dialect != "postgresql":
            raise BackupError("this backup is of a PostgreSQL database")
        _run(
            ["pg_restore", "--clean", "--if-exists", "--no-owner", "--no-privileges",
             f"--dbname={self._libpq_url()}", str(plain)],
            password=self._db.engine.url.password,
        )  # fmt: skip

    # -- helpers -----------------------------------------------------------------------------

    def _current_schema(self) -> str:
        with self._db.engine.connect() as conn:
            return str(conn.execute(text("SELECT current_schema()")).scalar_one())

    def _libpq_url(self) -> str:
        # Without the password: argv is visible to every user of the machine (ps), so it goes
        # to the tool in PGPASSWORD instead.
        url = self._db.engine.url.set(drivername="postgresql", password=None)
        return url.render_as_string(hide_password=False)

    def _encrypt(self, plain: Path, target: Path, kind: int) -> None:
        keystore = self._db.keystore
        master_id = keystore.keyring.current.key_id
        aead = AESGCM(keystore.backup_key(master_id))
        prefix = os.urandom(8)
        size = plain.stat().st_size
        chunks = max(1, -(-size // CHUNK))
        tmp = target.with_suffix(".partial")
        with plain.open("rb") as source, tmp.open("wb") as out:
            out.write(
                _HEADER.pack(
                    MAGIC,
                    kind,
                    master_id.encode().ljust(64, b"\0"),
                    prefix.ljust(16, b"\0"),
                    chunks,
                )
            )
            for index in range(chunks):
                data = source.read(CHUNK)
                nonce = prefix + struct.pack(">I", index)
                aad = struct.pack(">IB", index, index == chunks - 1)
                sealed = aead.encrypt(nonce, data, aad)
                out.write(struct.pack(">I", len(sealed)))
                out.write(sealed)
        os.chmod(tmp, 0o600)
        tmp.replace(target)

    def _decrypt(self, source_path: Path, target: Path) -> int:
        with source_path.open("rb") as source, target.open("wb") as out:
            header = source.read(_HEADER.size)
            if len(header) != _HEADER.size:
                raise BackupError(f"{source_path.name} is not an ImaraDesk backup")
            magic, kind, master_raw, prefix_raw, chunks = _HEADER.unpack(header)
            assert isinstance(kind, int)
            if magic != MAGIC:
                raise BackupError(f"{source_path.name} is not an ImaraDesk backup")
            master_id = master_raw.rstrip(b"\0").decode()
            aead = AESGCM(self._db.keystore.backup_key(master_id))
            prefix = prefix_raw[:8]
            for index in range(chunks):
                (length,) = struct.unpack(">I", source.read(4))
                nonce = prefix + struct.pack(">I", index)
                aad = struct.pack(">IB", index, index == chunks - 1)
                try:
                    out.write(aead.decrypt(nonce, source.read(length), aad))
                except InvalidTag as e:
                    raise BackupError(
                        f"{source_path.name} is damaged or was not made with this master key"
                    ) from e
            if source.read(1):
                raise BackupError(f"{source_path.name} has data after its last chunk")
        return kind


def _run(command: list[str], *, password: str | None) -> None:
    env = {**os.environ, "PGPASSWORD": password} if password else None
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=3600, env=env)
    except FileNotFoundError as e:
        raise BackupError(f"{command[0]} is not installed") from e
    if result.returncode != 0:
        raise BackupError(f"{command[0]} failed: {result.stderr.strip()[:500]}")

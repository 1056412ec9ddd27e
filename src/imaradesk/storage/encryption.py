"""Envelope encryption at rest: AES-256-GCM under per-organization data keys.

Each organization has a random 256-bit data key, stored only wrapped (AES-GCM) by a master key
from configuration. Values are sealed as ``enc1:<base64url(key id | nonce | ciphertext)>`` with
the organization and the column as associated data, so a value cannot be moved to another
column or organization unnoticed. Identities that must be found by exact match (phone numbers)
get a keyed hash (HMAC-SHA256 under a subkey of the data key) beside their ciphertext.

Destroying a data key (crypto-shredding) leaves every value sealed under it unreadable, in the
live database and in every backup, since backups never contain the key table.

Errors::

    EncryptionError
    ├── MasterKeyError   no master key, or not the one that wrapped the data keys
    ├── KeyDestroyed     the organization's data key was destroyed
    └── DecryptionError  a value does not open (tampered, or moved)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import struct
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from imaradesk.storage.models import OrgKey

TOKEN_PREFIX = "enc1:"
_NONCE = 12
_KEY_ID = struct.Struct(">I")


class EncryptionError(Exception):
    """Base of encryption errors."""


class MasterKeyError(EncryptionError):
    pass


class KeyDestroyed(EncryptionError):
    pass


class DecryptionError(EncryptionError):
    pass


@dataclass(frozen=True)
class MasterKey:
    key_id: str
    key: bytes

    def __repr__(self) -> str:  # never the key itself
        return f"MasterKey({self.key_id!r})"


class MasterKeyring:
    """The configured master keys; the first wraps new data keys, all can unwrap."""

    def __init__(self, keys: Iterable[MasterKey]) -> None:
        self._keys = list(keys)
        if not self._keys:
            raise MasterKeyError("no master key configured")
        for key in self._keys:
            if len(key.key) != 32:
                raise MasterKeyError(f"master key {key.key_id!r} is not 32 bytes (AES-256)")
        self._by_id = {k.key_id: k for k in self._keys}

    @classmethod
    def parse(cls, spec: str) -> MasterKeyring:
        """Parse ``id:base64key[,id:base64key...]`` (the first is current)."""
        keys = []
        for part in (p.strip() for p in spec.split(",")):
            if not part:
                continue
            key_id, sep, encoded = part.partition(":")
            if not sep or not key_id:
                raise MasterKeyError("master keys look like id:base64key[,id:base64key]")
            try:
                raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
            except ValueError as e:
                raise MasterKeyError(f"master key {key_id!r} is not base64") from e
            keys.append(MasterKey(key_id, raw))
        return cls(keys)

    @classmethod
    def load_or_create_file(cls, path: Path) -> MasterKeyring:
        """A development keyring kept in a file beside the data (never for production)."""
        if path.exists():
            return cls.parse(path.read_text().strip())
        path.parent.mkdir(parents=True, exist_ok=True)
        spec = generate_master_key_spec()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(spec + "\n")
        return cls.parse(spec)

    @property
    def current(self) -> MasterKey:
        return self._keys[0]

    def get(self, key_id: str) -> MasterKey:
        try:
            return self._by_id[key_id]
        except KeyError:
            raise MasterKeyError(
                f"data keys are wrapped by master key {key_id!r}, which is not configured "
                "(IMARADESK_MASTER_KEYS)"
            ) from None

    def __repr__(self) -> str:
        return f"MasterKeyring({[k.key_id for k in self._keys]})"


def generate_master_key_spec(key_id: str | None = None) -> str:
    key_id = key_id or f"k{secrets.token_hex(4)}"
    return f"{key_id}:{base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip('=')}"


def _wrap_aad(org_id: int, version: int) -> bytes:
    return f"imaradesk-data-key|{org_id}|{version}".encode()


@dataclass(frozen=True)
class OrgCipher:
    """One organization's data key, unwrapped, in memory only."""

    org_id: int
    key_id: int
    _aead: AESGCM
    _hash_key: bytes

    def seal(self, plaintext: bytes, context: str) -> bytes:
        nonce = os.urandom(_NONCE)
        ciphertext = self._aead.encrypt(nonce, plaintext, self._aad(context))
        return _KEY_ID.pack(self.key_id) + nonce + ciphertext

    def open(self, blob: bytes, context: str) -> bytes:
        nonce = blob[_KEY_ID.size : _KEY_ID.size + _NONCE]
        try:
            return self._aead.decrypt(nonce, blob[_KEY_ID.size + _NONCE :], self._aad(context))
        except InvalidTag as e:
            raise DecryptionError(f"a value of {context} does not open") from e

    def seal_text(self, plaintext: str, context: str) -> str:
        blob = self.seal(plaintext.encode(), context)
        return TOKEN_PREFIX + base64.urlsafe_b64encode(blob).decode()

    def identity_hash(self, value: str) -> str:
        return hmac.new(self._hash_key, value.encode(), hashlib.sha256).hexdigest()

    def _aad(self, context: str) -> bytes:
        return f"{self.org_id}|{context}".encode()


def is_sealed(value: object) -> bool:
    return isinstance(value, str) and value.startswith(TOKEN_PREFIX)


def _key_id_of(blob: bytes) -> int:
    key_id: int = _KEY_ID.unpack(blob[: _KEY_ID.size])[0]
    return key_id


class Keystore:
    """Creates, unwraps, caches, rotates and destroys organizations' data keys."""

    def __init__(
        self,
        engine: Engine,
        keyring: MasterKeyring,
        *,
        enabled: bool = True,
        write_engine: Engine | None = None,
    ) -> None:
        self._engine = engine
        # SQLite needs writes to take the lock up front (BEGIN IMMEDIATE), see storage.db.
        self._write_engine = write_engine or engine
        self._keyring = keyring
        self.enabled = enabled
        self._lock = threading.Lock()
        self._by_org: dict[int, OrgCipher] = {}
        self._by_key_id: dict[int, OrgCipher] = {}

    @property
    def keyring(self) -> MasterKeyring:
        return self._keyring

    # -- keys ------------------------------------------------------------------------------

    def create_key(self, org_id: int, *, now: datetime) -> OrgCipher:
        """Create the organization's data key in a transaction of its own."""
        raw = secrets.token_bytes(32)
        master = self._keyring.current
        with Session(self._write_engine) as session:
            row = OrgKey(
                org_id=org_id,
                version=1,
                wrapped=AESGCM(master.key).encrypt(
                    nonce := os.urandom(_NONCE), raw, _wrap_aad(org_id, 1)
                ),
                wrap_nonce=nonce,
                master_key_id=master.key_id,
                created_at=now,
            )
            session.add(row)
            session.commit()
            session.refresh(row)
            return self._remember(row, raw)

    def cipher_for(self, org_id: int) -> OrgCipher:
        cipher = self._by_org.get(org_id)
        if cipher is not None:
            return cipher
        with Session(self._engine) as session:
            row = session.exec(
                select(OrgKey).where(OrgKey.org_id == org_id).order_by(col(OrgKey.version).desc())
            ).first()
        if row is None:
            raise MasterKeyError(f"organization {org_id} has no data key")
        return self._unwrap(row)

    def cipher_by_key_id(self, key_id: int) -> OrgCipher:
        cipher = self._by_key_id.get(key_id)
        if cipher is not None:
            return cipher
        with Session(self._engine) as session:
            row = session.get(OrgKey, key_id)
        if row is None:
            raise KeyDestroyed(f"data key {key_id} does not exist (destroyed?)")
        return self._unwrap(row)

    def _unwrap(self, row: OrgKey) -> OrgCipher:
        if row.wrapped is None or row.wrap_nonce is None:
            raise KeyDestroyed(f"the data key of organization {row.org_id} was destroyed")
        master = self._keyring.get(row.master_key_id)
        try:
            raw = AESGCM(master.key).decrypt(
                row.wrap_nonce, row.wrapped, _wrap_aad(row.org_id, row.version)
            )
        except InvalidTag as e:
            raise MasterKeyError(
                f"master key {row.master_key_id!r} is not the key that wrapped the data keys"
            ) from e
        return self._remember(row, raw)

    def _remember(self, row: OrgKey, raw: bytes) -> OrgCipher:
        assert row.id is not None
        hash_key = HKDF(
            algorithm=SHA256(), length=32, salt=None, info=b"imaradesk-identity-hash"
        ).derive(raw)
        cipher = OrgCipher(row.org_id, row.id, AESGCM(raw), hash_key)
        with self._lock:
            self._by_org[row.org_id] = cipher
            self._by_key_id[row.id] = cipher
        return cipher

    def verify(self) -> int:
        """Unwrap every live data key now, so a wrong master key stops the service at start."""
        with Session(self._engine) as session:
            rows = session.exec(select(OrgKey).where(col(OrgKey.wrapped).is_not(None))).all()
        for row in rows:
            self._unwrap(row)
        return len(rows)

    def rotate_master(self) -> int:
        """Re-wrap every data key under the current master key; returns how many changed."""
        master = self._keyring.current
        changed = 0
        with Session(self._write_engine) as session:
            rows = session.exec(select(OrgKey).where(col(OrgKey.wrapped).is_not(None))).all()
            for row in rows:
                if row.master_key_id == master.key_id:
                    continue
                old = self._keyring.get(row.master_key_id)
                aad = _wrap_aad(row.org_id, row.version)
                # The query selected wrapped keys only; a destroyed key has neither.
                assert row.wrap_nonce is not None and row.wrapped is not None
                try:
                    raw = AESGCM(old.key).decrypt(row.wrap_nonce, row.wrapped, aad)
                except InvalidTag as e:
                    raise MasterKeyError(
                        f"master key {old.key_id!r} does not unwrap key {row.id}"
                    ) from e
                nonce = os.urandom(_NONCE)
                row.wrapped = AESGCM(master.key).encrypt(nonce, raw, aad)
                row.wrap_nonce = nonce
                row.master_key_id = master.key_id
                session.add(row)
                changed += 1
            session.commit()
        return changed

    def destroy(self, org_id: int, *, now: datetime) -> int:
        """Crypto-shred: drop the wrapped key material; the row stays as a tombstone."""
        with Session(self._write_engine) as session:
            rows = session.exec(select(OrgKey).where(OrgKey.org_id == org_id)).all()
            for row in rows:
                row.wrapped = None
                row.wrap_nonce = None
                row.destroyed_at = now
                session.add(row)
            session.commit()
        self.forget(org_id)
        return len(rows)

    def forget(self, org_id: int) -> None:
        with self._lock:
            cipher = self._by_org.pop(org_id, None)
            if cipher is not None:
                self._by_key_id.pop(cipher.key_id, None)

    # -- values ----------------------------------------------------------------------------

    def seal_text(self, org_id: int, plaintext: str, context: str) -> str:
        return self.cipher_for(org_id).seal_text(plaintext, context)

    def open_text(self, token: str, org_id: int, context: str) -> str:
        blob = _decode_token(token)
        cipher = self.cipher_by_key_id(_key_id_of(blob))
        if cipher.org_id != org_id:
            raise DecryptionError(f"a value of {context} belongs to another organization")
        return cipher.open(blob, context).decode()

    def seal_bytes(self, org_id: int, data: bytes, context: str) -> bytes:
        if not self.enabled:
            return data
        return self.cipher_for(org_id).seal(data, context)

    def open_bytes(self, org_id: int, blob: bytes, context: str) -> bytes:
        if not self.enabled:
            return blob
        if len(blob) < _KEY_ID.size + _NONCE + 16:
            raise DecryptionError(f"{context} is too short to be sealed")
        cipher = self.cipher_by_key_id(_key_id_of(blob))
        if cipher.org_id != org_id:
            raise DecryptionError(f"{context} belongs to another organization")
        return cipher.open(blob, context)

    def identity_hash(self, org_id: int, value: str) -> str:
        return self.cipher_for(org_id).identity_hash(value)

    def backup_key(self, master_key_id: str) -> bytes:
        """The key of backup files made under the given master key."""
        master = self._keyring.get(master_key_id)
        return HKDF(algorithm=SHA256(), length=32, salt=None, info=b"imaradesk-backup").derive(
            master.key
        )

    def describe(self) -> str:
        return json.dumps({"master_keys": repr(self._keyring), "enabled": self.enabled})


def _decode_token(token: str) -> bytes:
    try:
        blob = base64.urlsafe_b64decode(token[len(TOKEN_PREFIX) :])
    except ValueError as e:
        raise DecryptionError("a sealed value is not valid base64") from e
    if len(blob) < _KEY_ID.size + _NONCE + 16:
        raise DecryptionError("a sealed value is too short")
    return blob

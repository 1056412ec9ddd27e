"""API tokens: per-organization bearer tokens for the REST API, stored only as digests."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from imaradesk.runtime.clock import Clock
from imaradesk.storage.db import Database
from imaradesk.storage.token_repository import TokenRecords

TOKEN_PREFIX = "imd_"
MAX_NAME_CHARS = 100
# last_used_at is for people deciding what to revoke: minute precision spares a write per call.
_TOUCH_EVERY = timedelta(minutes=1)


class TokenError(ValueError):
    pass


@dataclass(frozen=True)
class IssuedToken:
    id: int
    name: str
    secret: str  # shown once; only its digest is kept


@dataclass(frozen=True)
class TokenView:
    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


def _digest(token: str) -> str:
    # Tokens are 256 random bits, so a plain digest is enough: no guessing a low-entropy secret.
    return hashlib.sha256(token.encode()).hexdigest()


class ApiTokens:
    def __init__(self, database: Database, clock: Clock) -> None:
        self._db = database
        self._clock = clock

    def issue(self, org_id: int, name: str) -> IssuedToken:
        name = " ".join(name.split())
        if not name or len(name) > MAX_NAME_CHARS:
            raise TokenError(f"give the token a name of 1 to {MAX_NAME_CHARS} characters")
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self._db.write() as session:
            row = TokenRecords(session).add(
                org_id=org_id,
                name=name,
                token_hash=_digest(secret),
                prefix=secret[:10],
                now=self._clock.now(),
            )
            assert row.id is not None
            return IssuedToken(row.id, name, secret)

    def tokens(self, org_id: int) -> list[TokenView]:
        with self._db.read() as session:
            rows = TokenRecords(session).of_organization(org_id)
            return [
                TokenView(r.id, r.name, r.prefix, r.created_at, r.last_used_at, r.revoked_at)  # type: ignore[arg-type]
                for r in rows
            ]

    def revoke(self, org_id: int, token_id: int) -> bool:
        with self._db.write() as session:
            tokens = TokenRecords(session)
            row = tokens.get(org_id=org_id, token_id=token_id)
            if row is None:
                return False
            tokens.revoke(row, now=self._clock.now())
            return True

    def authenticate(self, token: str) -> int | None:
        """The organization a live token belongs to, or None."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        digest = _digest(token)
        with self._db.read() as session:
            row = TokenRecords(session).by_digest(digest)
            if row is None or row.revoked_at is not None:
                return None
            # Compared again in constant time: the index lookup alone would be a timing oracle
            # on the digest, harmless here but cheap to close.
            if not secrets.compare_digest(row.token_hash, digest):
                return None
            org_id, token_id, last_used = row.org_id, row.id, row.last_used_at
        now = self._clock.now()
        if last_used is None or now - last_used >= _TOUCH_EVERY:
            assert token_id is not None
            with self._db.write() as session:
                TokenRecords(session).touch(token_id, now=now)
        return org_id

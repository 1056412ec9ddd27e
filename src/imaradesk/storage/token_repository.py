"""API token rows: stored as digests, found by digest or by their organization."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session, col, select

from imaradesk.storage.models import ApiToken


class TokenRecords:
    """Reads and writes of API tokens; lookups by digest are not scoped (that is how a token's
    organization is found), everything else names the organization."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(
        self, *, org_id: int, name: str, token_hash: str, prefix: str, now: datetime
    ) -> ApiToken:
        row = ApiToken(
            org_id=org_id, name=name, token_hash=token_hash, prefix=prefix, created_at=now
        )
        self._session.add(row)
        self._session.flush()
        return row

    def of_organization(self, org_id: int) -> Sequence[ApiToken]:
        return self._session.exec(
            select(ApiToken).where(ApiToken.org_id == org_id).order_by(col(ApiToken.id))
        ).all()

    def get(self, *, org_id: int, token_id: int) -> ApiToken | None:
        return self._session.exec(
            select(ApiToken).where(ApiToken.org_id == org_id, ApiToken.id == token_id)
        ).first()

    def by_digest(self, token_hash: str) -> ApiToken | None:
        return self._session.exec(select(ApiToken).where(ApiToken.token_hash == token_hash)).first()

    def revoke(self, token: ApiToken, *, now: datetime) -> None:
        """Revoke a token; revoking again keeps the first time."""
        if token.revoked_at is None:
            token.revoked_at = now
            self._session.add(token)

    def touch(self, token_id: int, *, now: datetime) -> None:
        """Note when a token was last used; a token deleted meanwhile is left alone."""
        row = self._session.get(ApiToken, token_id)
        if row is not None:
            row.last_used_at = now
            self._session.add(row)

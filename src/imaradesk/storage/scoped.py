"""What every organization-scoped repository shares: its session and the one organization."""

from __future__ import annotations

from typing import Protocol

from sqlmodel import Session


class _OwnedRow(Protocol):
    org_id: int


class OrgScoped:
    """A repository of one organization's rows: every query it runs names ``org_id``."""

    def __init__(self, session: Session, org_id: int) -> None:
        if not isinstance(org_id, int):
            raise TypeError(f"{type(self).__name__} needs an organization id")
        self._session = session
        self.org_id = org_id

    def _check_owned(self, row: _OwnedRow) -> None:
        """Refuse to change a row of another organization, whoever handed it in."""
        if getattr(row, "org_id", None) != self.org_id:
            raise PermissionError(f"{type(row).__name__} belongs to another organization")

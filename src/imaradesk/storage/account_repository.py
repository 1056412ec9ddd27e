"""Console accounts: agents and admins who sign in to the desk.

Emails are unique across organizations (an email is how someone signs in), so lookups by
email are not scoped; listing and disabling name the organization.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col, select

from imaradesk.storage.models import AgentAccount, Handoff, HandoffStatus


class Accounts:
    def __init__(self, session: Session) -> None:
        self._session = session

    # -- reads ---------------------------------------------------------------------------------

    def get(self, account_id: int) -> AgentAccount | None:
        return self._session.get(AgentAccount, account_id)

    def by_email(self, email: str) -> AgentAccount | None:
        return self._session.exec(select(AgentAccount).where(AgentAccount.email == email)).first()

    def in_organization(self, *, org_id: int, email: str) -> AgentAccount | None:
        return self._session.exec(
            select(AgentAccount).where(AgentAccount.org_id == org_id, AgentAccount.email == email)
        ).first()

    def of_organization(self, org_id: int) -> Sequence[AgentAccount]:
        """The organization's accounts by name."""
        return self._session.exec(
            select(AgentAccount)
            .where(AgentAccount.org_id == org_id)
            .order_by(col(AgentAccount.name))
        ).all()

    # -- writes --------------------------------------------------------------------------------

    def add(
        self,
        *,
        org_id: int,
        email: str,
        name: str,
        role: str,
        password_hash: str | None,
        team_id: int | None,
        languages: list[str],
        verified_at: datetime | None,
        now: datetime,
    ) -> AgentAccount:
        account = AgentAccount(
            org_id=org_id,
            email=email,
            name=name,
            password_hash=password_hash,
            role=role,
            team_id=team_id,
            languages=languages,
            email_verified_at=verified_at,
            created_at=now,
        )
        self._session.add(account)
        self._session.flush()
        return account

    def clear_failed_logins(self, account_id: int) -> None:
        self._session.execute(
            update(AgentAccount)
            .where(col(AgentAccount.id) == account_id)
            .values(failed_logins=0, locked_until=None)
        )

    def count_failed_login(self, account_id: int, *, limit: int, lock_until: datetime) -> None:
        """Count a failure in the database itself, so that parallel guesses all count; at
        ``limit`` failures the account is locked until ``lock_until`` and counting restarts."""
        self._session.execute(
            update(AgentAccount)
            .where(col(AgentAccount.id) == account_id)
            .values(failed_logins=AgentAccount.failed_logins + 1)
        )
        self._session.execute(
            update(AgentAccount)
            .where(col(AgentAccount.id) == account_id, col(AgentAccount.failed_logins) >= limit)
            .values(locked_until=lock_until, failed_logins=0)
        )

    def disable(self, account: AgentAccount, *, now: datetime) -> None:
        """End the account's access and sessions; its open handoffs go back to the queue."""
        account.disabled_at = now
        account.session_version += 1
        account.available = False
        self._session.add(account)
        self._session.execute(
            update(Handoff)
            .where(
                col(Handoff.org_id) == account.org_id,
                col(Handoff.assigned_agent_id) == account.id,
                col(Handoff.status) == HandoffStatus.OPEN,
            )
            .values(assigned_agent_id=None, taken_at=None)
        )

    def mark_email_verified(self, account: AgentAccount, *, now: datetime) -> None:
        """Record the verification; a second one keeps the first time."""
        if account.email_verified_at is None:
            account.email_verified_at = now
            self._session.add(account)

    def set_password(self, account_id: int, *, password_hash: str, now: datetime) -> AgentAccount:
        """Replace the password: sessions signed in with the old one end, the lockout is lifted,
        and the address counts as verified (only its owner could follow the emailed link)."""
        row = self._session.get(AgentAccount, account_id)
        if row is None:
            raise LookupError(f"account {account_id} does not exist")
        row.password_hash = password_hash
        row.session_version += 1
        row.email_verified_at = row.email_verified_at or now
        row.failed_logins = 0
        row.locked_until = None
        self._session.add(row)
        return row

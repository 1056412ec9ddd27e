"""The rows a restore must carry across: the live data keys and the live erasures.

A restore replaces every table with the backup's, except that destroyed keys stay destroyed
(and their organizations shredded) and whoever was erased after the backup is erased again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, text
from sqlmodel import Session, col, select

from imaradesk.storage.compliance_repository import ComplianceData
from imaradesk.storage.models import Contact, ErasureTombstone, OrgKey


@dataclass(frozen=True)
class LiveErasure:
    """An erasure as the live database records it (its privacy request may not survive)."""

    org_id: int
    identity_hash: str
    message_id_hashes: tuple[str, ...]
    erased_at: datetime


@dataclass(frozen=True)
class LiveState:
    keys: tuple[OrgKey, ...]  # detached copies, ids included
    erasures: tuple[LiveErasure, ...]


class BackupData:
    def __init__(self, session: Session) -> None:
        self._session = session

    def live_state(self) -> LiveState:
        """What the restore must keep of the database it replaces."""
        keys = tuple(
            OrgKey.model_validate(k.model_dump()) for k in self._session.exec(select(OrgKey)).all()
        )
        erasures = tuple(
            LiveErasure(t.org_id, t.identity_hash, tuple(t.message_id_hashes), t.erased_at)
            for t in self._session.exec(select(ErasureTombstone)).all()
        )
        return LiveState(keys, erasures)

    def put_back(self, live: LiveState, *, dialect: str) -> int:
        """Restore the live keys and erasures over the backup's rows; how many were erased."""
        self._session.execute(delete(OrgKey))
        for key in live.keys:
            self._session.add(key)
        self._session.flush()
        # An organization shredded since the backup stays shredded.
        self._session.execute(
            text(
                "UPDATE organization SET data_destroyed_at = "
                "(SELECT MAX(destroyed_at) FROM orgkey WHERE orgkey.org_id = organization.id) "
                "WHERE id IN (SELECT org_id FROM orgkey WHERE wrapped IS NULL)"
            )
        )
        erased = self._reapply_erasures(live.erasures)
        if dialect == "postgresql":
            # Keys were inserted with their ids; move the sequence past them.
            self._session.execute(
                text(
                    "SELECT setval(pg_get_serial_sequence('orgkey', 'id'), "
                    "COALESCE(MAX(id), 1)) FROM orgkey"
                )
            )
        return erased

    def _reapply_erasures(self, live: Sequence[LiveErasure]) -> int:
        """Erase again whoever was erased after the backup was taken.

        A contact created after its tombstone is a customer who came back, and stays.
        """
        restored = {
            (t.org_id, t.identity_hash, t.erased_at)
            for t in self._session.exec(select(ErasureTombstone)).all()
        }
        for erasure in live:
            if (erasure.org_id, erasure.identity_hash, erasure.erased_at) not in restored:
                self._session.add(
                    ErasureTombstone(
                        org_id=erasure.org_id,
                        identity_hash=erasure.identity_hash,
                        message_id_hashes=list(erasure.message_id_hashes),
                        erased_at=erasure.erased_at,
                    )
                )
        self._session.flush()
        erased = 0
        for tombstone in self._session.exec(select(ErasureTombstone)).all():
            contacts = self._session.exec(
                select(Contact).where(
                    col(Contact.org_id) == tombstone.org_id,
                    col(Contact.address_hash) == tombstone.identity_hash,
                    col(Contact.created_at) < tombstone.erased_at,
                )
            ).all()
            for contact in contacts:
                assert contact.id is not None
                ComplianceData(self._session, tombstone.org_id).erase_contact_rows(contact.id)
                erased += 1
        return erased

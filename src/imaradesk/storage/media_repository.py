"""Customers' media files, sealed under their organization's key, read back for the console."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from imaradesk.storage.db import Database
from imaradesk.storage.models import Direction, MediaFile, Message


@dataclass(frozen=True)
class StoredMedia:
    content_type: str
    data: bytes


class MediaRepository:
    def __init__(self, database: Database) -> None:
        self._db = database

    def inbound_media(self, *, org_id: int, message_id: int) -> Message | None:
        """The customer's message whose media is to be fetched, if it still exists."""
        with self._db.read() as session:
            return session.exec(
                select(Message).where(
                    Message.org_id == org_id,
                    Message.id == message_id,
                    Message.direction == Direction.INBOUND,
                )
            ).first()

    def add(
        self,
        *,
        org_id: int,
        message_id: int,
        position: int,
        content_type: str,
        data: bytes,
        now: datetime,
    ) -> bool:
        """Keep one fetched file; False when its message was erased or expired meanwhile, or
        the file is already kept (a retried job)."""
        sealed = self._db.keystore.seal_bytes(org_id, data, f"media:{message_id}:{position}")
        with self._db.write() as session:
            exists = session.exec(
                select(Message.id).where(Message.org_id == org_id, Message.id == message_id)
            ).first()
            if exists is None or self._find(session, org_id, message_id, position) is not None:
                return False
            session.add(
                MediaFile(
                    org_id=org_id,
                    message_id=message_id,
                    position=position,
                    content_type=content_type,
                    size=len(data),
                    data=sealed,
                    fetched_at=now,
                )
            )
            return True

    def get(self, *, org_id: int, message_id: int, position: int) -> StoredMedia | None:
        with self._db.read() as session:
            row = self._find(session, org_id, message_id, position)
            if row is None:
                return None
            data = self._db.keystore.open_bytes(org_id, row.data, f"media:{message_id}:{position}")
            return StoredMedia(row.content_type, data)

    def positions(self, *, org_id: int, message_ids: list[int]) -> set[tuple[int, int]]:
        """Which (message, position) of these messages have a kept file."""
        if not message_ids:
            return set()
        with self._db.read() as session:
            rows = session.exec(
                select(MediaFile.message_id, MediaFile.position).where(
                    MediaFile.org_id == org_id, col(MediaFile.message_id).in_(message_ids)
                )
            ).all()
        return {(m, p) for m, p in rows}

    @staticmethod
    def _find(session: Session, org_id: int, message_id: int, position: int) -> MediaFile | None:
        return session.exec(
            select(MediaFile).where(
                MediaFile.org_id == org_id,
                MediaFile.message_id == message_id,
                MediaFile.position == position,
            )
        ).first()

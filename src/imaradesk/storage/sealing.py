"""Sealing listed columns on their way into the database and opening them on the way out.

The application only ever holds plaintext: values are sealed just before a flush and the
plaintext is put back on the object right after it; loaded rows are opened as they load. A
session knows its keystore through ``session.info["keystore"]`` (see ``storage.db``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm.attributes import get_history, set_committed_value

from imaradesk.storage.encryption import EncryptionError, KeyDestroyed, Keystore, is_sealed
from imaradesk.storage.models import (
    ConsentRecord,
    Contact,
    Handoff,
    IngestionJob,
    KnowledgeDocument,
    KnowledgeEntry,
    KnowledgePhrasing,
    LegalHold,
    Message,
    Organization,
    PrivacyRequest,
)

SEALED_FIELDS: dict[type, tuple[str, ...]] = {
    Organization: (
        "twilio_auth_token",
        "contact_email",
        "ai_api_key",
        "webchat_identity_secret",
        "meta_app_secret",
        "meta_access_token",
        "meta_verify_token",
    ),
    Contact: ("address", "alias", "display_name", "email"),
    ConsentRecord: ("method",),
    Message: ("body",),
    Handoff: ("detail", "summary"),
    KnowledgeEntry: ("question", "answer", "answer_translations", "question_translations"),
    KnowledgeDocument: ("error",),
    IngestionJob: ("error",),
    KnowledgePhrasing: ("text",),
    PrivacyRequest: ("detail",),
    LegalHold: ("reason",),
}
_PENDING = "imaradesk_plaintext"


class UnsealableRow(Exception):
    """A value must be sealed but its organization has no id yet."""


def _org_id(obj: Any) -> int | None:
    return obj.id if isinstance(obj, Organization) else obj.org_id


def _context(obj: Any, field: str) -> str:
    return f"{type(obj).__tablename__}.{field}"


@event.listens_for(OrmSession, "before_flush")
def _seal_before_flush(session: OrmSession, _ctx: Any, _instances: Any) -> None:
    keystore: Keystore | None = session.info.get("keystore")
    if keystore is None or not keystore.enabled:
        return
    pending = session.info.setdefault(_PENDING, [])
    for obj in list(session.new) + list(session.dirty):
        fields = SEALED_FIELDS.get(type(obj))
        if not fields:
            continue
        is_new = obj in session.new
        for field in fields:
            value = getattr(obj, field)
            # Never judge by the content whether a value is sealed: a customer can type
            # "enc1:...". In memory every value is plaintext, so every value is sealed.
            if value is None:
                continue
            if not is_new and not get_history(obj, field).has_changes():
                continue
            org_id = _org_id(obj)
            if org_id is None:
                raise UnsealableRow(f"{_context(obj, field)} needs the organization's id first")
            setattr(obj, field, keystore.seal_text(org_id, value, _context(obj, field)))
            pending.append((obj, field, value))


@event.listens_for(OrmSession, "after_flush_postexec")
def _restore_plaintext(session: OrmSession, _ctx: Any) -> None:
    for obj, field, value in session.info.pop(_PENDING, []):
        set_committed_value(obj, field, value)


@event.listens_for(OrmSession, "after_rollback")
def _forget_pending(session: OrmSession) -> None:
    session.info.pop(_PENDING, None)


def _open(target: Any, session: OrmSession | None, fields: tuple[str, ...]) -> None:
    keystore: Keystore | None = session.info.get("keystore") if session is not None else None
    org_id = _org_id(target)
    if keystore is None or org_id is None:
        return  # a row without an organization seals nothing
    for field in fields:
        value = target.__dict__.get(field)
        if is_sealed(value) and not keystore.enabled:
            # Written while encryption was on, or plaintext that merely looks sealed.
            try:
                set_committed_value(
                    target, field, keystore.open_text(value, org_id, _context(target, field))
                )
            except (EncryptionError, ValueError):
                pass
        elif is_sealed(value) and isinstance(target, Organization):
            # An organization whose key is destroyed is still a row (its slug answers 410);
            # only its secrets are gone.
            try:
                opened = keystore.open_text(value, org_id, _context(target, field))
            except KeyDestroyed:
                opened = None
            set_committed_value(target, field, opened)
        elif is_sealed(value):
            set_committed_value(
                target, field, keystore.open_text(value, org_id, _context(target, field))
            )


def _register(model: type, fields: tuple[str, ...]) -> None:
    @event.listens_for(model, "load")
    def _on_load(target: Any, context: Any) -> None:
        _open(target, context.session, fields)

    @event.listens_for(model, "refresh")
    def _on_refresh(target: Any, context: Any, _attrs: Any) -> None:
        _open(target, context.session, fields)


for _model, _fields in SEALED_FIELDS.items():
    _register(_model, _fields)

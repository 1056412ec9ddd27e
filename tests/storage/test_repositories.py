"""Repositories on SQLite and PostgreSQL: the organization scope and the constraints."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from imaradesk.storage.db import Database
from imaradesk.storage.models import Direction, LawfulBasis
from imaradesk.storage.repositories import InvalidSlug, Organizations, OrgData
from imaradesk.storage.turn_repository import TurnData

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def make_org(db: Database, slug: str) -> int:
    with db.write() as session:
        org = Organizations(session).create(slug=slug, name=slug, now=NOW, privacy_notice_text="n")
    db.keystore.create_key(org.id, now=NOW)
    return org.id


def add_conversation(db: Database, org_id: int, address: str) -> tuple[int, int, int]:
    with db.write() as session:
        data = OrgData(session, org_id)
        contact = data.add_contact(
            channel="whatsapp", address=address, display_name=None, now=NOW, retain_until=NOW
        )
        conversation = data.add_conversation(
            contact_id=contact.id, channel="whatsapp", now=NOW, retain_until=NOW
        )
        message = TurnData(session, org_id).add_inbound(
            conversation_id=conversation.id,
            contact_id=contact.id,
            channel="whatsapp",
            provider_message_id=f"SM-{address}",
            kind="text",
            body=f"hello from {address}",
            media=[],
            button_payload=None,
            ai_processed=False,
            consent_record_id=None,
            lawful_basis=LawfulBasis.CONSENT,
            created_at=NOW,
            retain_until=NOW + timedelta(days=1),
            legal_hold=False,
        )
        return contact.id, conversation.id, message.id


def test_org_data_never_returns_another_organizations_rows(database: Database) -> None:
    a, b = make_org(database, "org-a"), make_org(database, "org-b")
    _, conv_a, msg_a = add_conversation(database, a, "+254700000001")
    add_conversation(database, b, "+254700000001")
    with database.read() as session:
        as_b = OrgData(session, b)
        assert as_b.find_contact("whatsapp", "+254700000001").org_id == b
        assert as_b.get_message(msg_a) is None
        assert as_b.messages_of(conv_a) == []
        assert (
            as_b.find_message(
                channel="whatsapp",
                direction=Direction.INBOUND,
                provider_message_id="SM-+254700000001",
            ).org_id
            == b
        )
        assert as_b.count_messages() == 1


def test_updating_another_organizations_row_is_refused(database: Database) -> None:
    a, b = make_org(database, "org-a"), make_org(database, "org-b")
    add_conversation(database, a, "+254700000001")
    with database.write() as session:
        contact = OrgData(session, a).find_contact("whatsapp", "+254700000001")
        with pytest.raises(PermissionError):
            OrgData(session, b).correct_contact(contact, field="display_name", value="Mallory")


def test_org_data_needs_an_organization() -> None:
    with pytest.raises(TypeError):
        OrgData(None, None)  # type: ignore[arg-type]


def test_slugs_are_validated(database: Database) -> None:
    with database.write() as session:
        with pytest.raises(InvalidSlug):
            Organizations(session).create(
                slug="Bad Slug!", name="x", now=NOW, privacy_notice_text="n"
            )


def test_datetimes_come_back_aware_in_utc(database: Database) -> None:
    org = make_org(database, "org-a")
    add_conversation(database, org, "+254700000001")
    with database.read() as session:
        contact = OrgData(session, org).find_contact("whatsapp", "+254700000001")
    assert contact.created_at == NOW and contact.created_at.tzinfo is not None

"""The typed repositories of each area, on SQLite and PostgreSQL: organizations, API tokens,
accounts, desk setup, AI usage, exports, retention, privacy requests and contact corrections."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import SQLModel

from imaradesk.storage.account_repository import Accounts
from imaradesk.storage.compliance_repository import ComplianceData
from imaradesk.storage.db import Database
from imaradesk.storage.errors import StorageError, StorageUnavailable
from imaradesk.storage.export_repository import ExportData
from imaradesk.storage.liveness import check_database
from imaradesk.storage.models import AnalyticsDaily, HandoffStatus, LawfulBasis
from imaradesk.storage.organization_repository import Organizations, check_settings
from imaradesk.storage.repositories import OrgData
from imaradesk.storage.retention_repository import RetentionData
from imaradesk.storage.setup_repository import DeskConfig
from imaradesk.storage.token_repository import TokenRecords
from imaradesk.storage.turn_repository import HandoffRoute, TurnData
from imaradesk.storage.usage_repository import UsageEntry, UsageRecords, store_usage
from tests.conftest import TEST_KEYRING

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def make_org(db: Database, slug: str) -> int:
    with db.write() as session:
        org = Organizations(session).create(slug=slug, name=slug, now=NOW, privacy_notice_text="n")
    assert org.id is not None
    db.keystore.create_key(org.id, now=NOW)
    return org.id


def add_contact(db: Database, org_id: int, address: str) -> tuple[int, int, int]:
    """A contact with a conversation and one inbound message: their ids."""
    with db.write() as session:
        data = TurnData(session, org_id)
        contact = data.add_contact(
            channel="whatsapp", address=address, display_name=None, now=NOW, retain_until=NOW
        )
        assert contact.id is not None
        conversation = data.add_conversation(
            contact_id=contact.id, channel="whatsapp", now=NOW, retain_until=NOW
        )
        assert conversation.id is not None
        message = data.add_inbound(
            conversation_id=conversation.id,
            contact_id=contact.id,
            channel="whatsapp",
            provider_message_id=f"SM-{address}",
            kind="text",
            body="hello",
            media=[],
            button_payload=None,
            ai_processed=True,
            consent_record_id=None,
            lawful_basis=LawfulBasis.CONSENT,
            created_at=NOW,
            retain_until=NOW,
            legal_hold=False,
        )
        assert message.id is not None
        return contact.id, conversation.id, message.id


# -- organizations --------------------------------------------------------------------------------


def test_settings_change_by_name_and_nothing_else(database: Database) -> None:
    org_id = make_org(database, "acme")
    with database.write() as session:
        Organizations(session).change_settings(
            org_id, check_settings({"retention_days": 30, "rasa_url": "http://rasa"})
        )
    with pytest.raises(AttributeError, match="kb_revision"):
        check_settings({"retention_days": 7, "kb_revision": 9})
    with database.write() as session, pytest.raises(AttributeError):
        Organizations(session).change_settings(org_id, {"legal_hold": True})  # type: ignore[typeddict-unknown-key]
    with database.read() as session:
        org = Organizations(session).get(org_id)
    assert org is not None
    assert (org.retention_days, org.rasa_url, org.legal_hold) == (30, "http://rasa", False)


def test_a_material_notice_gets_a_version_of_its_own(database: Database) -> None:
    org_id = make_org(database, "acme")
    later = NOW + timedelta(days=1)
    with database.write() as session:
        orgs = Organizations(session)
        assert orgs.publish_notice(org_id, text="typo fixed", material=False, now=later) == 1
        assert orgs.publish_notice(org_id, text="new purposes", material=True, now=later) == 2
    with database.read() as session:
        orgs = Organizations(session)
        notices = orgs.notices(org_id)
        org = orgs.get(org_id)
    assert [(n.version, n.text) for n in notices] == [(2, "new purposes")]
    assert org is not None and org.privacy_notice_text == "new purposes"


def test_closure_and_shredding_are_recorded(database: Database) -> None:
    org_id = make_org(database, "acme")
    due = NOW + timedelta(days=30)
    with database.write() as session:
        orgs = Organizations(session)
        orgs.set_closure(org_id, closed_at=NOW, deletion_due_at=due)
        orgs.mark_data_destroyed(org_id, now=NOW)
    with database.read() as session:
        org = Organizations(session).get(org_id)
    assert org is not None
    assert (org.closed_at, org.deletion_due_at, org.data_destroyed_at) == (NOW, due, NOW)
    with database.write() as session:
        Organizations(session).set_closure(org_id, closed_at=None, deletion_due_at=None)
        with pytest.raises(LookupError):
            Organizations(session).set_closure(999, closed_at=None, deletion_due_at=None)
    with database.read() as session:
        reopened = Organizations(session).get(org_id)
    assert reopened is not None and reopened.closed_at is None


# -- API tokens -----------------------------------------------------------------------------------


def test_tokens_are_found_by_digest_and_scoped_by_organization(database: Database) -> None:
    a, b = make_org(database, "org-a"), make_org(database, "org-b")
    with database.write() as session:
        token = TokenRecords(session).add(
            org_id=a, name="ci", token_hash="d" * 64, prefix="imd_abcdef", now=NOW
        )
    assert token.id is not None
    later = NOW + timedelta(hours=1)
    with database.write() as session:
        tokens = TokenRecords(session)
        assert tokens.get(org_id=b, token_id=token.id) is None
        row = tokens.get(org_id=a, token_id=token.id)
        assert row is not None
        tokens.revoke(row, now=NOW)
        tokens.revoke(row, now=later)  # revoking again keeps the first time
        tokens.touch(token.id, now=later)
        tokens.touch(9999, now=later)  # a token deleted meanwhile is left alone
    with database.read() as session:
        tokens = TokenRecords(session)
        found = tokens.by_digest("d" * 64)
        assert [t.id for t in tokens.of_organization(a)] == [token.id]
        assert tokens.of_organization(b) == []
    assert found is not None and (found.revoked_at, found.last_used_at) == (NOW, later)


# -- accounts and desk setup ------------------------------------------------------------------------


def add_account(db: Database, org_id: int, email: str, name: str) -> int:
    with db.write() as session:
        account = Accounts(session).add(
            org_id=org_id,
            email=email,
            name=name,
            role="agent",
            password_hash=None,
            team_id=DeskConfig(session, org_id).team_id("Support"),
            languages=["en"],
            verified_at=None,
            now=NOW,
        )
    assert account.id is not None
    return account.id


def test_accounts_are_found_by_email_and_listed_by_name(database: Database) -> None:
    a, b = make_org(database, "org-a"), make_org(database, "org-b")
    add_account(database, a, "zawadi@acme.test", "Zawadi")
    add_account(database, a, "amina@acme.test", "Amina")
    with database.read() as session:
        accounts = Accounts(session)
        assert [x.name for x in accounts.of_organization(a)] == ["Amina", "Zawadi"]
        assert accounts.of_organization(b) == []
        found = accounts.by_email("amina@acme.test")
        assert found is not None and found.org_id == a
        assert accounts.in_organization(org_id=b, email="amina@acme.test") is None
        teams = DeskConfig(session, a).team_names()
    assert list(teams.values()) == ["Support"]


def test_failed_logins_lock_at_the_limit_and_a_new_password_unlocks(database: Database) -> None:
    org_id = make_org(database, "acme")
    account_id = add_account(database, org_id, "amina@acme.test", "Amina")
    until = NOW + timedelta(minutes=15)
    for _ in range(3):
        with database.write() as session:
            Accounts(session).count_failed_login(account_id, limit=3, lock_until=until)
    with database.read() as session:
        locked = Accounts(session).get(account_id)
    assert locked is not None and (locked.locked_until, locked.failed_logins) == (until, 0)
    with database.write() as session:
        Accounts(session).count_failed_login(account_id, limit=3, lock_until=until)
        Accounts(session).clear_failed_logins(account_id)
    with database.write() as session:
        row = Accounts(session).set_password(account_id, password_hash="h", now=NOW)
        assert row.session_version == 2
    with database.read() as session:
        fresh = Accounts(session).get(account_id)
    assert fresh is not None
    assert (fresh.failed_logins, fresh.locked_until, fresh.email_verified_at) == (0, None, NOW)
    with database.write() as session, pytest.raises(LookupError):
        Accounts(session).set_password(9999, password_hash="h", now=NOW)


def test_verification_keeps_its_first_time(database: Database) -> None:
    org_id = make_org(database, "acme")
    account_id = add_account(database, org_id, "amina@acme.test", "Amina")
    with database.write() as session:
        accounts = Accounts(session)
        account = accounts.get(account_id)
        assert account is not None
        accounts.mark_email_verified(account, now=NOW)
        accounts.mark_email_verified(account, now=NOW + timedelta(days=1))
    with database.read() as session:
        verified = Accounts(session).get(account_id)
    assert verified is not None and verified.email_verified_at == NOW


def test_a_disabled_account_hands_its_open_handoffs_back(database: Database) -> None:
    org_id = make_org(database, "acme")
    account_id = add_account(database, org_id, "amina@acme.test", "Amina")
    contact_id, conversation_id, _ = add_contact(database, org_id, "+254700000001")
    route = HandoffRoute(
        topic=None,
        language="en",
        sentiment=None,
        urgency="normal",
        priority=0,
        team_id=None,
        assigned_agent_id=account_id,
        routing_reasons=(),
        summary="",
        suggested_entry_ids=(),
    )
    with database.write() as session:
        data = TurnData(session, org_id)
        conversation = data.current_conversation(contact_id)
        assert conversation is not None and conversation.id == conversation_id
        data.add_routed_handoff(
            conversation=conversation,
            reason="customer_request",
            route=route,
            now=NOW,
            retain_until=NOW,
            legal_hold=False,
        )
    with database.write() as session:
        accounts = Accounts(session)
        account = accounts.get(account_id)
        assert account is not None
        accounts.disable(account, now=NOW)
    with database.read() as session:
        account = Accounts(session).get(account_id)
        [back] = OrgData(session, org_id).handoffs(status=HandoffStatus.OPEN)
    assert account is not None and account.disabled_at == NOW and not account.available
    assert account.session_version == 2
    assert (back.assigned_agent_id, back.taken_at) == (None, None)


def test_teams_rules_and_templates_belong_to_their_organization(database: Database) -> None:
    a, b = make_org(database, "org-a"), make_org(database, "org-b")
    with database.write() as session:
        config = DeskConfig(session, a)
        billing = config.team_id("Billing")
        assert config.team_id("Billing") == billing
        assert DeskConfig(session, b).team_id("Billing") != billing
        config.add_routing_rule(
            kind="topic", value="fees", keywords=["fee"], team_id=billing, priority=2
        )
        config.add_routing_rule(kind="language", value="sw", keywords=[], team_id=None, priority=0)
        DeskConfig(session, b).add_routing_rule(
            kind="topic", value="other", keywords=[], team_id=None, priority=0
        )
        template = config.add_template(name="follow-up", content_sid="HX1", body="Hello again")
    assert template.id is not None and template.org_id == a
    with database.read() as session:
        rules = DeskConfig(session, a).routing_rules()
    assert [(r.value, r.position, r.examples) for r in rules] == [("fees", 1, []), ("sw", 2, [])]


# -- AI usage ---------------------------------------------------------------------------------------


def usage(org_id: int, at: datetime, outcome: str = "ok") -> UsageEntry:
    return UsageEntry(
        org_id=org_id,
        provider="openai",
        model="gpt-4o-mini",
        purpose="answer",
        outcome=outcome,
        input_tokens=10,
        output_tokens=5,
        latency_ms=300,
        at=at,
    )


def test_usage_is_read_from_a_day_on(database: Database) -> None:
    a, b = make_org(database, "org-a"), make_org(database, "org-b")
    store_usage(database, usage(a, NOW - timedelta(days=2)))
    store_usage(database, usage(a, NOW, "timeout"))
    store_usage(database, usage(b, NOW))
    with database.read() as session:
        rows = UsageRecords(session).since(org_id=a, since=NOW - timedelta(days=1))
    assert [(r.outcome, r.created_at) for r in rows] == [("timeout", NOW)]


def test_a_usage_row_that_cannot_be_stored_says_so_in_storage_terms(
    sqlite_database: Database,
) -> None:
    org_id = make_org(sqlite_database, "acme")
    SQLModel.metadata.tables["aiusage"].drop(sqlite_database.engine)
    with pytest.raises(StorageError) as raised:
        store_usage(sqlite_database, usage(org_id, NOW))
    assert raised.value.__cause__ is not None


def test_liveness(database: Database, tmp_path: Path) -> None:
    check_database(database)
    # A directory is no database file: SQLite cannot open it.
    broken = Database.from_url(f"sqlite:///{tmp_path}", keyring=TEST_KEYRING)
    with pytest.raises(StorageUnavailable):
        check_database(broken)
    broken.dispose()


# -- exports ----------------------------------------------------------------------------------------


def test_exports_read_only_organizations_that_allow_it(database: Database) -> None:
    a, excluded, shredded = (make_org(database, s) for s in ("org-a", "org-b", "org-c"))
    add_contact(database, a, "+254700000001")
    with database.write() as session:
        orgs = Organizations(session)
        orgs.change_settings(excluded, {"exclude_from_training": True})
        orgs.mark_data_destroyed(shredded, now=NOW)
        refs = [orgs.get(i).analytics_ref for i in (a, excluded)]  # type: ignore[union-attr]
        for ref in refs:
            session.add(AnalyticsDaily(org_ref=ref, day="2026-11-02", inbound=1))
    with database.read() as session:
        exports = ExportData(session)
        assert [o.id for o in exports.included_organizations()] == [a]
        assert [r.body for r in exports.consented_questions(a)] == ["hello"]
        assert [r.org_ref for r in exports.daily_counts([refs[0]])] == [refs[0]]


# -- retention --------------------------------------------------------------------------------------


def test_holds_are_lifted_and_minors_flagged_within_the_organization(database: Database) -> None:
    a, b = make_org(database, "org-a"), make_org(database, "org-b")
    contact_id, conversation_id, _ = add_contact(database, a, "+254700000001")
    due = NOW + timedelta(days=30)
    with database.write() as session:
        data = RetentionData(session, a)
        assert data.has_conversation(conversation_id)
        assert not RetentionData(session, b).has_conversation(conversation_id)
        hold = data.add_hold(
            scope="contact",
            target_id=contact_id,
            reason="court order",
            placed_by="dpo",
            placed_at=NOW,
        )
        contact = data.contact(contact_id)
        assert contact is not None
        data.flag_minor(contact, erasure_review_due=due)
        with pytest.raises(PermissionError):
            RetentionData(session, b).lift_hold(hold, lifted_by="dpo", now=NOW)
        data.lift_hold(hold, lifted_by="dpo", now=NOW)
    with database.read() as session:
        data = RetentionData(session, a)
        contact = data.contact(contact_id)
        assert data.active_holds() == []
    assert contact is not None and contact.is_minor and contact.erasure_review_due == due


def test_expiry_counts_what_it_deleted(database: Database) -> None:
    org_id = make_org(database, "acme")
    add_contact(database, org_id, "+254700000001")
    with database.write() as session:
        result = RetentionData(session, org_id).expire(NOW + timedelta(seconds=1))
    assert result.deleted["messages"] == 1 and result.deleted["conversations"] == 1
    assert result.deleted["contacts"] == 1 and len(result.erased_contact_ids) == 1
    with database.read() as session:
        assert ComplianceData(session, org_id).contacts() == []


@pytest.mark.parametrize("keep", [True, False])
def test_deleting_an_organization_leaves_at_most_its_daily_counts(
    database: Database, keep: bool
) -> None:
    org_id, other = make_org(database, "acme"), make_org(database, "other")
    add_contact(database, org_id, "+254700000001")
    add_account(database, org_id, "amina@acme.test", "Amina")
    with database.write() as session:
        org = Organizations(session).get(org_id)
        assert org is not None
        ref = org.analytics_ref
        session.add(AnalyticsDaily(org_ref=ref, day="2026-11-02", inbound=1))
    with database.write() as session:
        RetentionData(session, org_id).delete_organization(
            analytics_ref=ref, keep_daily_counts=keep
        )
    with database.read() as session:
        assert Organizations(session).get(org_id) is None
        assert Organizations(session).get(other) is not None
        assert Accounts(session).by_email("amina@acme.test") is None
        assert len(ExportData(session).daily_counts([ref])) == int(keep)


# -- privacy requests and contact corrections -------------------------------------------------------


def test_privacy_requests_are_opened_and_moved_on(database: Database) -> None:
    org_id = make_org(database, "acme")
    contact_id, _, _ = add_contact(database, org_id, "+254700000001")
    with database.write() as session:
        data = ComplianceData(session, org_id)
        request = data.open_privacy_request(
            contact_id=contact_id,
            right="access",
            status="open",
            channel="whatsapp",
            received_at=NOW,
            due_at=NOW + timedelta(days=30),
            retain_until=NOW + timedelta(days=1095),
        )
        data.set_request_status(request, status="completed", outcome="sent", completed_at=NOW)
    with database.read() as session:
        [stored] = ComplianceData(session, org_id).requests_of(contact_id)
    assert (stored.status, stored.outcome, stored.completed_at) == ("completed", "sent", NOW)


def test_a_contact_is_corrected_and_restricted_only_by_its_organization(database: Database) -> None:
    a, b = make_org(database, "org-a"), make_org(database, "org-b")
    contact_id, _, _ = add_contact(database, a, "+254700000001")
    with database.write() as session:
        data = OrgData(session, a)
        contact = ComplianceData(session, a).contact(contact_id)
        assert contact is not None
        data.correct_contact(contact, field="email", value="wanjiru@example.co.ke")
        data.correct_contact(contact, field="display_name", value="Wanjiru")
        data.set_restricted(contact, restricted=True)
        with pytest.raises(ValueError, match="opted_out"):
            data.correct_contact(contact, field="opted_out", value="x")  # type: ignore[arg-type]
        with pytest.raises(PermissionError):
            OrgData(session, b).set_restricted(contact, restricted=False)
    with database.read() as session:
        contact = ComplianceData(session, a).contact(contact_id)
    assert contact is not None
    assert (contact.email, contact.display_name, contact.restricted) == (
        "wanjiru@example.co.ke",
        "Wanjiru",
        True,
    )

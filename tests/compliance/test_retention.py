"""Retention with a frozen clock: the sweep deletes what expired everywhere, except what a legal
hold covers; closing an account deletes it 30 days later, leaving only anonymous counts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from imaradesk.compliance.retention import RetentionError
from imaradesk.storage.compliance_repository import ComplianceData
from imaradesk.storage.db import Database
from imaradesk.storage.models import (
    AnalyticsDaily,
    AuditEvent,
    ConsentRecord,
    Contact,
    Conversation,
    Message,
    Organization,
)
from tests.helpers import SCHOOL_FAQ, Chat, seed_org


def count(database: Database, model: type, org_id: int | None = None) -> int:
    with database.read() as session:
        query = select(model)
        if org_id is not None:
            query = query.where(model.org_id == org_id)
        return len(session.exec(query).all())


@pytest.fixture
def world(make_services, database: Database, clock):
    services = make_services(database)
    org = seed_org(services, "acme")
    services.organizations.update(org.id, retention_days=30, handoff_retention_days=30)
    alice = Chat(services, "acme", sender="+254700000001")
    bob = Chat(services, "acme", sender="+254700000002")
    alice.send("How do I check my balance?")
    bob.send("How do I check my balance?")
    bob.send("agent please")
    return services, services.organizations.by_slug("acme")


def contact_id(services, org, phone: str) -> int:
    with services.database.read() as session:
        return ComplianceData(session, org.id).find_contact("whatsapp", phone).id


def test_nothing_is_deleted_before_it_expires(world, clock) -> None:
    services, org = world
    clock.advance(timedelta(days=29))
    report = services.stewardship.sweep()
    assert sum(report.deleted.values()) == 0
    assert count(services.database, Message) == 8


def test_expired_data_is_deleted_everywhere_and_counted(world, clock) -> None:
    services, org = world
    alice = contact_id(services, org, "+254700000001")
    services.state.update(org.id, alice, {"clarifications": "1"})
    [handoff] = services.desk.inbox(org)
    services.desk.resolve(org, handoff.handoff.id)
    clock.advance(timedelta(days=31))
    report = services.stewardship.sweep()
    assert report.deleted["messages"] == 9, "8 of the chats and the rating question"
    assert report.deleted["handoffs"] == 1
    assert report.deleted["conversations"] == 2
    assert report.deleted["contacts"] == 2
    assert report.deleted["consent_records"] == 2
    for model in (Message, Conversation, Contact, ConsentRecord):
        assert count(services.database, model) == 0, model
    assert services.state.get(org.id, alice) == {}, "conversation state went with the contact"


def test_an_open_handoff_is_work_in_progress_and_is_kept(world, clock) -> None:
    services, org = world
    clock.advance(timedelta(days=400))
    report = services.stewardship.sweep()
    assert report.deleted["handoffs"] == 0 and report.deleted["messages"] == 8
    assert count(services.database, Contact) == 1, "the customer waiting for a person stays"
    assert [row.handoff.reason for row in services.desk.inbox(org)] == ["customer_request"]


def test_a_contact_on_hold_is_kept_until_the_hold_is_lifted(world, clock) -> None:
    services, org = world
    bob = contact_id(services, org, "+254700000002")
    [waiting] = services.desk.inbox(org)
    services.desk.resolve(org, waiting.handoff.id)
    hold = services.stewardship.place_hold(
        org, scope="contact", target_id=bob, reason="dispute 44/2026", actor="admin:legal"
    )
    # Messages written while the hold stands join it.
    Chat(services, "acme", sender="+254700000002").send("thanks")
    clock.advance(timedelta(days=40))
    report = services.stewardship.sweep()
    # Bob: 3 + 2 messages, the rating question, then "thanks" and the bot's answer.
    assert report.skipped_on_hold["messages"] == 8
    assert count(services.database, Contact) == 1 and count(services.database, Message) == 8
    services.stewardship.lift_hold(org, hold.id, actor="admin:legal")
    report = services.stewardship.sweep()
    assert report.deleted["messages"] == 8 and count(services.database, Contact) == 0
    with services.database.read() as session:
        actions = [e.action for e in session.exec(select(AuditEvent)).all()]
    assert actions == ["legal_hold_placed", "legal_hold_lifted"]


def test_a_conversation_hold_and_an_organization_hold(world, clock) -> None:
    services, org = world
    with services.database.read() as session:
        conversations = session.exec(select(Conversation).order_by(Conversation.id)).all()
    services.stewardship.place_hold(
        org,
        scope="conversation",
        target_id=conversations[0].id,
        reason="complaint",
        actor="admin:a",
    )
    org_hold = services.stewardship.place_hold(
        fresh(services),
        scope="organization",
        target_id=None,
        reason="regulator audit",
        actor="admin:a",
    )
    clock.advance(timedelta(days=40))
    report = services.stewardship.sweep()
    assert sum(report.deleted.values()) == 0 and report.skipped_on_hold["organization"] == 1
    services.stewardship.lift_hold(fresh(services), org_hold.id, actor="admin:a")
    services.stewardship.sweep()
    assert count(services.database, Message) == 3, "only the held conversation remains"
    assert count(services.database, Contact) == 2, "the held one, and one waiting for a person"


def test_holds_need_a_reason_and_a_real_target(world) -> None:
    services, org = world
    with pytest.raises(RetentionError):
        services.stewardship.place_hold(org, scope="contact", target_id=999, reason="x", actor="a")
    with pytest.raises(RetentionError):
        services.stewardship.place_hold(org, scope="contact", target_id=1, reason="  ", actor="a")


def fresh(services) -> Organization:
    return services.organizations.by_slug("acme")


def test_a_closed_account_is_deleted_after_30_days_unless_reopened(
    world, clock, live_server_factory
) -> None:
    services, org = world
    other = seed_org(services, "school", faq_csv=SCHOOL_FAQ)
    Chat(services, "school", sender="+254700000003").send("How do I pay school fees?")
    due = services.stewardship.close_account(org, actor="admin:owner")
    assert due == clock.now() + timedelta(days=30)
    clock.advance(timedelta(days=10))
    services.stewardship.reopen_account(fresh(services), actor="admin:owner")
    clock.advance(timedelta(days=25))
    services.stewardship.sweep()
    assert fresh(services) is not None, "reopening cancelled the deletion"

    services.stewardship.close_account(fresh(services), actor="admin:owner")
    clock.advance(timedelta(days=31))
    report = services.stewardship.sweep()
    assert report.organizations_deleted == 1
    assert fresh(services) is None
    assert (
        count(services.database, Message, org.id) == 0
        and count(services.database, Contact, org.id) == 0
    )
    assert not (services.settings.index_dir / f"org-{org.id}").exists()
    with services.database.read() as session:
        aggregates = session.exec(select(AnalyticsDaily)).all()
    # Counted as they happened, so retention sweeps before the deletion did not erase them.
    acme_days = [a for a in aggregates if a.org_ref == org.analytics_ref]
    assert [(a.inbound, a.answers, a.handoffs) for a in acme_days] == [(3, 2, 1)]
    assert "acme" not in acme_days[0].org_ref
    # Other organizations are untouched.
    assert count(services.database, Message, other.id) == 3
    server = live_server_factory(services)
    import requests

    assert (
        requests.post(f"{server.url}/channels/webchat/acme/visitors", timeout=10).status_code == 404
    )
    assert (
        requests.post(
            f"{server.url}/channels/webchat/acme/messages", json={"text": "hi"}, timeout=10
        ).status_code
        == 404
    ), "a deleted organization is unknown before any token is asked for"


def test_an_organization_on_hold_is_not_deleted(world, clock) -> None:
    services, org = world
    services.stewardship.close_account(org, actor="admin:owner")
    services.stewardship.place_hold(
        fresh(services),
        scope="organization",
        target_id=None,
        reason="litigation",
        actor="admin:legal",
    )
    clock.advance(timedelta(days=31))
    report = services.stewardship.sweep()
    assert report.organizations_deleted == 0 and report.skipped_on_hold["organization"] == 1
    assert fresh(services) is not None


def test_a_minor_is_scheduled_for_erasure_review(world, clock) -> None:
    services, org = world
    alice = contact_id(services, org, "+254700000001")
    due = services.stewardship.flag_minor(org, alice, actor="admin:care")
    assert due == clock.now() + timedelta(days=30)
    assert services.stewardship.minors_due_for_review(org) == []
    clock.advance(timedelta(days=31))
    assert [c.id for c in services.stewardship.minors_due_for_review(org)] == [alice]


def test_a_material_notice_change_is_shown_to_returning_customers(world) -> None:
    services, org = world
    alice = Chat(services, "acme", sender="+254700000001")
    assert [r.kind.value for r in alice.send("hello")] == ["small_talk"]
    services.organizations.publish_notice(
        org.id, "We now keep chats for 6 months. {org_name}, Reply STOP to opt out."
    )
    replies = alice.send("hello")
    assert replies[0].kind.value == "privacy_notice" and "6 months" in replies[0].text
    with services.database.read() as session:
        versions = [
            r.notice_version
            for r in ComplianceData(session, org.id).consent_history(
                contact_id(services, org, "+254700000001")
            )
        ]
    assert versions == [1, 2]
    services.organizations.publish_notice(
        org.id, "We now keep chats for 6 months, {org_name}. Reply STOP to opt out.", material=False
    )
    assert [r.kind.value for r in alice.send("hello")] == ["small_talk"], (
        "a wording fix asks nobody again"
    )


def test_closed_and_shredded_organizations_go_completely_and_others_stay(
    make_services, database: Database, clock
) -> None:
    from imaradesk.console.setup import DeskSetup
    from imaradesk.storage.models import AgentAccount, Team

    services = make_services(database)
    closed = seed_org(services, "closed")
    shredded = seed_org(services, "shredded")
    seed_org(services, "alive")
    DeskSetup(services.database).add_topic_rule(
        closed.id, topic="fraud", keywords=["scam"], team="Security"
    )
    DeskSetup(services.database).add_template(
        closed.id, name="t", content_sid="HX" + "0" * 32, body="hi"
    )
    services.accounts.create(
        closed.id,
        email="agent@closed.example",
        name="Agent",
        role="agent",
        team="Security",
        password="long enough pw",
        verified=True,
    )
    Chat(services, "closed").send("this is a scam, I want an agent")
    Chat(services, "shredded").send("hello")
    services.organizations.destroy_data(
        shredded.id,
        knowledge=services.knowledge,
        state=services.state,
        exports=services.exports,
        uploads=services.ingestion,
    )
    services.stewardship.close_account(closed, actor="admin:owner")
    clock.advance(timedelta(days=31))
    Chat(services, "alive").send("How do I check my balance?")

    report = services.stewardship.sweep()
    assert report.failed == {} and report.organizations_deleted == 2
    assert (
        services.organizations.by_slug("closed") is None
        and services.organizations.by_slug("shredded") is None
    )
    with services.database.read() as session:
        assert (
            session.exec(select(AgentAccount)).all() == []
            and session.exec(select(Team)).all() == []
        )
    assert count(services.database, Message) == 3, "the live organization's conversation stays"


def test_a_redelivery_after_its_message_expired_is_still_recognised(
    make_services, database: Database, clock
) -> None:
    """Meta retries a webhook for up to 7 days, and an organization may keep messages for one:
    the delivery's keyed hash outlives the message, so the retry is neither stored nor
    answered again (the customer would get the same answer twice, a day late)."""
    from imaradesk.storage.models import DeliveryKey

    services = make_services(database)
    org = seed_org(services, "brief")
    services.organizations.update(org.id, retention_days=1, handoff_retention_days=1)
    for language, question in (("en", "How do I check my balance?"), ("sw", "Habari yako?")):
        chat = Chat(services, "brief", sender=f"KE.{language}1502576394655843")
        sid = f"wamid.HBgMMjU0NzIyMDAwMTExFQIAEhgU{language}"
        assert chat.send(question, sid=sid), language
        clock.advance(timedelta(days=2))
        services.stewardship.sweep()
        assert count(services.database, Message, org.id) == 0, "the message itself expired"
        assert chat.send(question, sid=sid) == [], f"{language}: the retry is not answered again"
        assert count(services.database, Message, org.id) == 0, "nor stored again"
        assert chat.send(question), f"{language}: a new message is answered"
    clock.advance(timedelta(days=9))
    services.stewardship.sweep()
    assert count(services.database, DeliveryKey, org.id) == 0, "keys expire by themselves"

"""Handoffs decided and routed by the dialogue manager: always-human topics, frustration,
assignment by team, language and load, and the summary and suggestions an agent gets."""

from __future__ import annotations

from sqlmodel import select

from imaradesk.channels.messages import ReplyKind
from imaradesk.console.setup import DeskSetup
from imaradesk.storage.models import AgentAccount, Handoff
from tests.helpers import Chat, seed_org


def setup_org(services):
    org = seed_org(services, "acme")
    setup = DeskSetup(services.database)
    setup.add_topic_rule(
        org.id,
        topic="fraud",
        keywords=["scam", "hacked"],
        team="Security",
        priority=1,
        always_human=True,
        examples=["someone called pretending to be from your company and asked for my PIN"],
    )
    setup.add_language_rule(org.id, language="sw", team="Swahili desk")
    accounts = services.accounts
    accounts.create(
        org.id,
        email="a@acme.example",
        name="A",
        role="agent",
        team="Security",
        languages=["en"],
        password="long enough pw",
        verified=True,
    )
    accounts.create(
        org.id,
        email="b@acme.example",
        name="B",
        role="agent",
        team="Security",
        languages=["en", "sw"],
        password="long enough pw",
        verified=True,
    )
    accounts.create(
        org.id,
        email="c@acme.example",
        name="C",
        role="agent",
        team="Swahili desk",
        languages=["sw"],
        password="long enough pw",
        verified=True,
    )
    return org


def all_handoffs(services) -> list[Handoff]:
    with services.database.read() as session:
        return list(session.exec(select(Handoff).order_by(Handoff.id)).all())


def agent_id(services, email: str) -> int:
    with services.database.read() as session:
        return session.exec(select(AgentAccount).where(AgentAccount.email == email)).one().id


def test_an_always_human_topic_is_never_answered_by_the_bot(make_services, sqlite_database) -> None:
    services = make_services(sqlite_database)
    setup_org(services)
    replies = Chat(services, "acme").send("I think I was hacked, there is money missing")
    assert replies[-1].kind is ReplyKind.HANDOFF
    [handoff] = all_handoffs(services)
    assert (handoff.reason, handoff.topic, handoff.urgency, handoff.priority) == (
        "always_human_topic",
        "fraud",
        "high",
        1,
    )
    assert "team by topic fraud" in handoff.routing_reasons


def test_handoffs_go_to_the_least_loaded_agent_who_speaks_the_language(
    make_services, sqlite_database
) -> None:
    services = make_services(sqlite_database)
    setup_org(services)
    Chat(services, "acme", sender="+254700000001").send("this is a scam!")
    Chat(services, "acme", sender="+254700000002").send("I was hacked")
    Chat(services, "acme", sender="+254700000003").send("I was hacked again")
    first, second, third = all_handoffs(services)
    a, b = agent_id(services, "a@acme.example"), agent_id(services, "b@acme.example")
    assert [first.assigned_agent_id, second.assigned_agent_id] == [a, b], "the load spreads"
    assert third.assigned_agent_id == a
    Chat(services, "acme", sender="+254700000004").send("nataka kuongea na mtu tafadhali")
    swahili = all_handoffs(services)[-1]
    assert swahili.language == "sw" and swahili.assigned_agent_id == agent_id(
        services, "c@acme.example"
    )


def test_nobody_available_leaves_it_in_the_queue(make_services, sqlite_database) -> None:
    services = make_services(sqlite_database)
    org = setup_org(services)
    with services.database.write() as session:
        for account in session.exec(
            select(AgentAccount).where(AgentAccount.org_id == org.id)
        ).all():
            account.available = False
            session.add(account)
    Chat(services, "acme").send("I was hacked")
    [handoff] = all_handoffs(services)
    assert (
        handoff.assigned_agent_id is None
        and "waiting in the queue: nobody available" in handoff.routing_reasons
    )
    assert [row.handoff.id for row in services.desk.inbox(org, scope="unassigned")] == [handoff.id]


def test_a_frustrated_customer_is_handed_off_with_a_summary_and_suggestions(
    make_services, sqlite_database
) -> None:
    services = make_services(sqlite_database)
    setup_org(services)
    chat = Chat(services, "acme")
    chat.send("How do I reset my PIN?")
    replies = chat.send("This is the third time I am asking how to reset my PIN!!!")
    assert replies[-1].kind is ReplyKind.HANDOFF and "frustrating" in replies[-1].text
    [handoff] = all_handoffs(services)
    assert handoff.reason == "frustration" and handoff.urgency == "high"
    assert "How do I reset my PIN?" in handoff.summary
    snapshot = services.knowledge.snapshot(handoff.org_id)
    assert "How do I reset my PIN?" in [
        snapshot.entries[i].question for i in handoff.suggested_entry_ids
    ]


def test_a_restricted_contact_is_routed_without_any_model(make_services, sqlite_database) -> None:
    from tests.helpers import CountingEmbedder

    embedder = CountingEmbedder()
    services = make_services(sqlite_database, embedder=embedder)
    setup_org(services)
    chat = Chat(services, "acme")
    chat.send("hello")
    chat.send("stop using my messages for your AI")
    before = len(embedder.embedded)
    chat.send("my card was charged twice")
    assert len(embedder.embedded) == before
    [handoff] = all_handoffs(services)
    assert handoff.reason == "restricted_processing" and handoff.suggested_entry_ids == []

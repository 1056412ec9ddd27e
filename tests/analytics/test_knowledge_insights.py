"""Unanswered questions are found by the outcome code of the reply, never by its words."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text

from imaradesk.storage.db import Database
from tests.helpers import Chat, seed_org


def _set_outcome(database: Database, inbound_text_id: int, outcome: str) -> None:
    with database.engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE message SET outcome = :o WHERE reply_to_id = :i AND outcome != 'privacy_notice'"
            ),
            {"o": outcome, "i": inbound_text_id},
        )


def test_gaps_follow_the_recorded_code(make_services, database: Database, clock) -> None:
    services = make_services(database)
    org = seed_org(services, "acme")
    chat = Chat(services, "acme")
    answered = chat.turn("How do I check my balance?")
    unsure = chat.turn("Can I get a loan for my matatu business?")
    asked_for_person = Chat(services, "acme", sender="+254700000222").turn("nataka kuongea na mtu")
    insights = services.insights
    now = clock.now() + timedelta(minutes=1)
    examples = [e for g in insights.unanswered(org, now=now) for e in g.examples]
    assert examples == ["Can I get a loan for my matatu business?"]
    assert asked_for_person.replies[-1].handoff, "a person was asked for: not a gap"

    # Swap the codes, not the words: the answered question becomes the gap.
    _set_outcome(database, unsure.inbound_message_id, "answered")
    _set_outcome(database, answered.inbound_message_id, "clarify")
    examples = [e for g in insights.unanswered(org, now=now) for e in g.examples]
    assert examples == ["How do I check my balance?"]

    _set_outcome(database, answered.inbound_message_id, "offered_choices")
    assert [e for g in insights.unanswered(org, now=now) for e in g.examples] == [
        "How do I check my balance?"
    ]

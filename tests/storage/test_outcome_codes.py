"""Every stored bot reply carries its outcome code; migration 0007 gives old replies theirs.

The live turn records the codes; the migration, for rows stored before it, reads the (sealed)
reply text. These tests prove both agree on every kind of reply a conversation produces, on
SQLite and PostgreSQL, and that a real downgrade/upgrade through Alembic restores them.
"""

from __future__ import annotations

import importlib

from alembic import command
from sqlalchemy import text

from imaradesk.storage.db import Database, migration_config
from tests.helpers import Chat, seed_org

backfill_migration = importlib.import_module(
    "imaradesk.storage.migrations.versions.0007_message_outcome_codes"
)


def _codes(database: Database) -> dict[int, tuple[str | None, str | None]]:
    with database.engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT id, outcome, handoff_reason FROM message "
                "WHERE reply_to_id IS NOT NULL ORDER BY id"
            )
        ).all()
    return {row.id: (row.outcome, row.handoff_reason) for row in rows}


def _conversations(services) -> None:
    """Turns that produce every reply the bot gives without an AI."""
    seed_org(services, "acme")
    chat = Chat(services, "acme", sender="+254700000101")
    chat.send("How do I check my balance?")  # privacy notice + answer
    chat.send("thanks")  # small talk
    chat.send("qqqq zzzz")  # please rephrase
    chat.send("qqqq zzzz again")  # unsure twice: handed off for low confidence
    other = Chat(services, "acme", sender="+254700000102")
    other.send("I want to talk to an agent")  # handed off on request
    stopper = Chat(services, "acme", sender="+254700000103")
    stopper.send("STOP")
    stopper.send("START")
    asker = Chat(services, "acme", sender="+254700000104")
    asker.send("nitumie data yangu")  # a data-protection request, in Swahili


def test_live_turns_record_a_code_for_every_reply(make_services, database: Database) -> None:
    services = make_services(database)
    _conversations(services)
    codes = _codes(database)
    assert codes and all(outcome is not None for outcome, _ in codes.values())
    outcomes = {outcome for outcome, _ in codes.values()}
    assert {
        "privacy_notice",
        "answered",
        "small_talk",
        "clarify",
        "handoff",
        "opted_out",
        "opted_in",
        "privacy",
    } <= outcomes
    reasons = {reason for outcome, reason in codes.values() if outcome == "handoff"}
    assert reasons == {"low_confidence", "customer_request"}


def test_the_backfill_reads_old_replies_as_the_live_turn_recorded_them(
    make_services, database: Database
) -> None:
    services = make_services(database)
    _conversations(services)
    recorded = _codes(database)
    with database.engine.begin() as connection:
        connection.execute(text("UPDATE message SET outcome = NULL, handoff_reason = NULL"))
        classified = backfill_migration.backfill(connection, database.keystore)
    assert classified == len(recorded)
    assert _codes(database) == recorded


def test_a_real_downgrade_and_upgrade_restores_the_codes(make_services, database: Database) -> None:
    services = make_services(database)
    _conversations(services)
    recorded = _codes(database)
    with database.engine.begin() as connection:
        command.downgrade(migration_config(connection, database.keystore), "0006")
        columns = {
            c["name"] for c in __import__("sqlalchemy").inspect(connection).get_columns("message")
        }
        assert "outcome" not in columns
        command.upgrade(migration_config(connection, database.keystore), "head")
    assert _codes(database) == recorded


def test_without_the_key_replies_are_classified_by_kind_alone() -> None:
    # A shredded organization's bodies no longer open: the kind still says most of it.
    assert backfill_migration.classify("clarify", None) == ("clarify", None)
    assert backfill_migration.classify("answer", None) == ("answered", None)
    offered = "Sorry, I'm not sure I understood. Did you mean one of these?\n1. Fees"
    assert backfill_migration.classify("clarify", offered) == ("offered_choices", None)
    assert backfill_migration.classify("clarify", "Sijui. Nikuunganishe na mtu?") == (
        "offered_handoff",
        None,
    )

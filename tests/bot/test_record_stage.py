"""Two processes that share no lock: the database decides who stores a turn, and nobody decides twice.

Each "process" is its own Services (its own in-process lock manager, knowledge base and
dialogue manager) on one real database. A barrier inside the knowledge search holds both turns
after they decided and before either records, which is the race the unique keys settle.
"""

from __future__ import annotations

import threading

from sqlmodel import select

from imaradesk.channels.messages import ReplyKind, Turn
from imaradesk.storage.db import Database
from imaradesk.storage.models import ConsentRecord, Contact, Direction, Message
from tests.helpers import Chat, next_sid, seed_org


def _two_processes(make_services, database: Database):
    first = make_services(database)
    seed_org(first, "acme")
    second = make_services(database)
    barrier = threading.Barrier(2, timeout=20)
    searches: list[int] = []
    for number, services in enumerate((first, second)):
        original = services.knowledge.search

        def search(*args, _original=original, _number=number, **kwargs):
            searches.append(_number)
            result = _original(*args, **kwargs)
            barrier.wait()  # both turns have decided; neither has stored anything yet
            return result

        services.knowledge.search = search  # type: ignore[method-assign]
    return first, second, searches


def _race(jobs) -> list[Turn]:
    results: list[Turn] = []
    threads = [threading.Thread(target=lambda job=job: results.append(job())) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(results) == len(jobs), "a turn failed instead of settling the race"
    return results


def _rows(database: Database, model):
    with database.read() as session:
        return list(session.exec(select(model)).all())


def test_a_delivery_stored_by_another_process_replays_without_deciding_again(
    make_services, database: Database
) -> None:
    first, second, searches = _two_processes(make_services, database)
    sid = next_sid()
    sender = "+254700000301"
    turns = _race(
        [
            lambda s=s: Chat(s, "acme", sender=sender).turn("How do I check my balance?", sid=sid)
            for s in (first, second)
        ]
    )
    assert sorted(t.duplicate for t in turns) == [False, True]
    stored, replayed = sorted(turns, key=lambda t: t.duplicate)
    assert [r.text for r in replayed.replies] == [r.text for r in stored.replies]
    assert sorted(searches) == [0, 1], "each process decided once; the loser did not re-run"
    inbound = [m for m in _rows(database, Message) if m.direction == Direction.INBOUND]
    assert [m.provider_message_id for m in inbound] == [sid]
    assert len(_rows(database, Contact)) == 1


def test_two_first_messages_of_a_new_contact_are_both_stored_against_one_contact(
    make_services, database: Database
) -> None:
    first, second, searches = _two_processes(make_services, database)
    sender = "+254700000302"
    turns = _race(
        [
            lambda: Chat(first, "acme", sender=sender).turn("How do I check my balance?"),
            lambda: Chat(second, "acme", sender=sender).turn("How do I reset my PIN?"),
        ]
    )
    assert not any(t.duplicate for t in turns)
    assert sorted(searches) == [0, 1], "the turn that lost the contact was not decided again"
    assert len(_rows(database, Contact)) == 1
    inbound = [m for m in _rows(database, Message) if m.direction == Direction.INBOUND]
    assert sorted(m.body for m in inbound) == [
        "How do I check my balance?",
        "How do I reset my PIN?",
    ]
    # The contact consented once, and was shown the notice once.
    assert len(_rows(database, ConsentRecord)) == 1
    notices = [r for t in turns for r in t.replies if r.kind is ReplyKind.PRIVACY_NOTICE]
    assert len(notices) == 1
    answers = sorted(r.text for t in turns for r in t.replies if r.kind is ReplyKind.ANSWER)
    assert answers == [
        "Dial *483*1# to see your balance.",
        "Dial *483*7# and follow the prompts to reset your PIN.",
    ]

"""The dialogue manager, read as transcripts: what a customer sends and what comes back."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlmodel import select

from imaradesk.bot.rules import CLARIFY_REPLY
from imaradesk.channels.messages import Media, ReplyKind
from imaradesk.storage.db import AppendOnlyViolation, Database
from imaradesk.storage.errors import DuplicateRecord
from imaradesk.storage.models import (
    ConsentAction,
    ConsentRecord,
    Contact,
    Direction,
    Handoff,
    LawfulBasis,
    Message,
)
from imaradesk.storage.repositories import OrgData
from imaradesk.storage.turn_repository import TurnData
from tests.helpers import SCHOOL_FAQ, Chat, CountingEmbedder, next_sid, seed_org


def rows(database: Database, model: type) -> list:
    with database.read() as session:
        return list(session.exec(select(model).order_by(model.id)).all())


def test_first_message_gets_notice_and_answer_with_consent_recorded(
    make_services, database: Database
) -> None:
    services = make_services(database)
    seed_org(services, "acme")
    chat = Chat(services, "acme")

    first = chat.send("How do I check my balance?", profile_name="Wanjiru")
    assert [r.kind for r in first] == [ReplyKind.PRIVACY_NOTICE, ReplyKind.ANSWER]
    assert "STOP" in first[0].text and "https://acme.example/privacy" in first[0].text
    assert first[1].text == "Dial *483*1# to see your balance."
    assert first[1].sources[0].external_id == "balance"

    second = chat.send("How do I reset my PIN?")
    assert [r.kind for r in second] == [ReplyKind.ANSWER], "the notice is shown once"

    [record] = rows(database, ConsentRecord)
    assert (record.action, record.notice_version, record.channel) == (
        ConsentAction.GRANTED,
        1,
        "whatsapp",
    )
    assert "first message" in record.method
    messages = rows(database, Message)
    assert len(messages) == 5
    for message in messages:
        assert message.consent_record_id == record.id
        assert message.lawful_basis == LawfulBasis.CONSENT
        assert message.retain_until == message.created_at + timedelta(days=365)
        assert message.legal_hold is False
    answer = messages[2]
    assert answer.answer_entry_id is not None and answer.answer_score is not None
    assert answer.sources[0]["external_id"] == "balance"
    [contact] = rows(database, Contact)
    assert contact.display_name == "Wanjiru"


def test_small_talk_in_english_and_swahili(make_services, database: Database) -> None:
    """Small talk is answered in the customer's language: a plainly Swahili greeting switches
    the conversation to Swahili, and a short "thanks!" or "bye" keeps it there."""
    services = make_services(database)
    seed_org(services, "acme")
    chat = Chat(services, "acme")
    chat.send("hello")
    assert chat.texts("Habari yako") == ["Habari! Nikusaidie vipi leo?"]
    assert chat.texts("thanks!") == ["Karibu! Kuna jambo lingine naweza kukusaidia?"]
    assert chat.texts("asante sana") == ["Karibu! Kuna jambo lingine naweza kukusaidia?"]
    assert chat.texts("bye") == ["Kwaheri, asante kwa kuwasiliana nasi!"]

    english = Chat(services, "acme", sender="+254700000002")
    english.send("hello")
    # One Swahili word from an English-speaking customer does not switch the language.
    assert english.texts("asante") == ["You're welcome! Is there anything else I can help with?"]
    assert english.texts("bye") == ["Goodbye, and thank you for reaching out!"]


def test_unsure_asks_to_rephrase_once_then_hands_off(make_services, database: Database) -> None:
    services = make_services(database)
    seed_org(services, "acme")
    chat = Chat(services, "acme")
    chat.send("hi")
    [clarify] = chat.send("my goat ate the router cable")
    assert clarify.kind is ReplyKind.CLARIFY and not clarify.handoff
    [handoff] = chat.send("the router cable, the goat ate it")
    assert handoff.kind is ReplyKind.HANDOFF and handoff.handoff
    [stored] = rows(database, Handoff)
    assert stored.reason == "low_confidence" and stored.status == "open"
    assert chat.send("hello?") == [], "a human owns the conversation now"


def test_a_confident_answer_resets_the_rephrase_count(make_services, database: Database) -> None:
    services = make_services(database)
    seed_org(services, "acme")
    chat = Chat(services, "acme")
    chat.send("hi")
    assert chat.send("zebra xylophone")[0].kind is ReplyKind.CLARIFY
    assert chat.send("How do I check my balance?")[0].kind is ReplyKind.ANSWER
    assert chat.send("zebra xylophone")[0].kind is ReplyKind.CLARIFY


def test_picking_a_suggestion_by_number_answers_it(make_services, database: Database) -> None:
    # A wide required margin makes "send money" ambiguous between two entries.
    services = make_services(database, retrieval_min_margin=0.2)
    seed_org(services, "acme")
    chat = Chat(services, "acme")
    chat.send("hi")
    [clarify] = chat.send("send money")
    assert clarify.kind is ReplyKind.CLARIFY
    lines = [line for line in clarify.text.splitlines() if line[:1].isdigit()]
    assert lines, clarify.text
    number, question = lines[0].split(". ", 1)
    [answer] = chat.send(number)
    assert answer.kind is ReplyKind.ANSWER and answer.sources[0].question == question


@pytest.mark.parametrize(
    "request_text",
    [
        "I want to talk to an agent",
        "Can I speak with a human please",
        "agent",
        "nataka kuongea na mtu",
        "Niunganishe na mhudumu",
    ],
)
def test_explicit_request_for_a_human_hands_off_at_once(
    make_services, sqlite_database: Database, request_text: str
) -> None:
    services = make_services(sqlite_database)
    seed_org(services, "acme")
    chat = Chat(services, "acme")
    replies = chat.send(request_text)
    assert replies[-1].handoff and replies[-1].kind is ReplyKind.HANDOFF
    [stored] = rows(sqlite_database, Handoff)
    assert stored.reason == "customer_request"


def test_resolving_a_handoff_gives_the_conversation_back_to_the_bot(
    make_services, sqlite_database: Database
) -> None:
    services = make_services(sqlite_database)
    org = seed_org(services, "acme")
    chat = Chat(services, "acme")
    chat.send("agent please")
    assert chat.send("How do I check my balance?") == []
    [handoff] = rows(sqlite_database, Handoff)
    with sqlite_database.write() as session:
        OrgData(session, org.id).resolve_handoff(handoff.id, now=services.clock.now())
    assert chat.send("How do I check my balance?")[0].kind is ReplyKind.ANSWER


def test_stop_withdraws_consent_silences_the_bot_and_start_resumes(
    make_services, database: Database
) -> None:
    embedder = CountingEmbedder()
    services = make_services(database, embedder=embedder)
    seed_org(services, "acme")
    chat = Chat(services, "acme")
    chat.send("How do I check my balance?")

    [confirmation] = chat.send("Stop")
    assert confirmation.kind is ReplyKind.OPT_OUT_CONFIRMATION
    embedded_before = len(embedder.embedded)
    assert chat.send("How do I reset my PIN?") == []
    assert chat.send("STOP") == [], "the opt-out is confirmed once"
    assert len(embedder.embedded) == embedded_before, (
        "nothing sent while opted out reaches the model"
    )

    replies = chat.send("START")
    assert [r.kind for r in replies] == [ReplyKind.PRIVACY_NOTICE, ReplyKind.OPT_IN_CONFIRMATION]
    assert chat.send("How do I reset my PIN?")[0].kind is ReplyKind.ANSWER

    records = rows(database, ConsentRecord)
    assert [r.action for r in records] == [
        ConsentAction.GRANTED,
        ConsentAction.WITHDRAWN,
        ConsentAction.GRANTED,
    ]
    silent = [m for m in rows(database, Message) if m.body == "How do I reset my PIN?"][0]
    assert silent.ai_processed is False
    assert silent.consent_record_id == records[1].id
    assert silent.lawful_basis == LawfulBasis.LEGITIMATE_INTERESTS


@pytest.mark.parametrize("keyword", ["STOPALL", "unsubscribe", "Cancel", "END", "quit", "stop."])
def test_every_opt_out_keyword_works_only_as_the_whole_message(
    make_services, sqlite_database: Database, keyword: str
) -> None:
    services = make_services(sqlite_database)
    seed_org(services, "acme")
    chat = Chat(services, "acme")
    assert chat.send(keyword)[-1].kind is ReplyKind.OPT_OUT_CONFIRMATION
    other = Chat(services, "acme", sender="+254700000002")
    assert all(
        r.kind is not ReplyKind.OPT_OUT_CONFIRMATION
        for r in other.send(f"please don't {keyword} my account")
    )


def test_consent_records_are_append_only(make_services, sqlite_database: Database) -> None:
    services = make_services(sqlite_database)
    seed_org(services, "acme")
    Chat(services, "acme").send("hi")
    with pytest.raises(AppendOnlyViolation):
        with sqlite_database.write() as session:
            record = session.exec(select(ConsentRecord)).first()
            record.action = ConsentAction.WITHDRAWN
            session.add(record)
    with pytest.raises(AppendOnlyViolation):
        with sqlite_database.write() as session:
            session.delete(session.exec(select(ConsentRecord)).first())
    assert rows(sqlite_database, ConsentRecord)[0].action == ConsentAction.GRANTED


def test_a_new_notice_version_is_shown_again_and_consent_recorded_again(
    make_services, sqlite_database: Database
) -> None:
    services = make_services(sqlite_database)
    org = seed_org(services, "acme")
    chat = Chat(services, "acme")
    chat.send("hi")
    with sqlite_database.write() as session:
        fresh = OrgData(session, org.id).organization()
        fresh.privacy_notice_version = 2
        session.add(fresh)
    assert [r.kind for r in chat.send("hi")] == [ReplyKind.PRIVACY_NOTICE, ReplyKind.SMALL_TALK]
    assert [r.notice_version for r in rows(sqlite_database, ConsentRecord)] == [1, 2]


def test_media_only_message_gets_a_polite_reply_and_is_stored_with_its_media(
    make_services, database: Database
) -> None:
    services = make_services(database)
    seed_org(services, "acme")
    chat = Chat(services, "acme")
    chat.send("hi")
    [reply] = chat.send("", media=(Media("https://api.twilio.com/m/1", "image/jpeg"),))
    assert reply.kind is ReplyKind.UNSUPPORTED_MEDIA and "text" in reply.text
    inbound = [m for m in rows(database, Message) if m.direction == Direction.INBOUND][-1]
    assert inbound.kind == "media"
    assert inbound.media == [{"url": "https://api.twilio.com/m/1", "content_type": "image/jpeg"}]


def test_a_repeated_message_id_replays_the_same_replies_and_stores_nothing(
    make_services, database: Database
) -> None:
    services = make_services(database)
    seed_org(services, "acme")
    chat = Chat(services, "acme")
    first = chat.turn("How do I check my balance?", sid="SMdup")
    count = len(rows(database, Message))
    again = chat.turn("How do I check my balance?", sid="SMdup")
    assert again.duplicate and not first.duplicate
    assert [r.text for r in again.replies] == [r.text for r in first.replies]
    assert [r.message_id for r in again.replies] == [r.message_id for r in first.replies]
    assert len(rows(database, Message)) == count


def test_the_same_message_on_two_threads_at_once_is_handled_once(
    make_services, database: Database
) -> None:
    services = make_services(database)
    seed_org(services, "acme")
    for attempt in range(5):
        sid = next_sid()
        barrier = threading.Barrier(2)
        results = []

        def deliver() -> None:
            chat = Chat(services, "acme", sender=f"+2547000001{attempt:02d}")
            barrier.wait()
            results.append(chat.turn("How do I check my balance?", sid=sid))

        threads = [threading.Thread(target=deliver) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(t.duplicate for t in results) == [False, True]
        assert [r.text for r in results[0].replies] == [r.text for r in results[1].replies]
        inbound = [m for m in rows(database, Message) if m.provider_message_id == sid]
        assert len(inbound) == 1


def test_the_unique_constraint_refuses_a_second_row_for_a_provider_id(
    make_services, database: Database
) -> None:
    # The lookup is an optimisation; the database is what guarantees one row per SID, and
    # storage says so with its own error (callers never import SQLAlchemy to catch it).
    services = make_services(database)
    org = seed_org(services, "acme")
    Chat(services, "acme").turn("hi", sid="SMonce")
    [original] = [m for m in rows(database, Message) if m.provider_message_id == "SMonce"]
    with pytest.raises(DuplicateRecord):
        with database.write() as session:
            TurnData(session, org.id).add_inbound(
                conversation_id=original.conversation_id,
                contact_id=original.contact_id,
                channel=original.channel,
                provider_message_id="SMonce",
                kind=original.kind,
                body="a second delivery",
                media=[],
                button_payload=None,
                ai_processed=False,
                consent_record_id=original.consent_record_id,
                lawful_basis=original.lawful_basis,
                created_at=original.created_at,
                retain_until=original.retain_until,
                legal_hold=False,
            )
    assert [m.body for m in rows(database, Message) if m.provider_message_id == "SMonce"] == ["hi"]


def test_messages_of_one_conversation_are_handled_one_at_a_time(
    make_services, database: Database
) -> None:
    services = make_services(database)
    seed_org(services, "acme")
    active = []
    overlaps = []
    original = services.knowledge.search

    def slow_search(*args, **kwargs):
        active.append(1)
        if len(active) > 1:
            overlaps.append(len(active))
        threading.Event().wait(0.05)
        active.pop()
        return original(*args, **kwargs)

    services.knowledge.search = slow_search  # type: ignore[method-assign]
    chat = Chat(services, "acme")
    chat.send("hi")
    threads = [
        threading.Thread(target=chat.send, args=(f"question number {i} about fees",))
        for i in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert overlaps == []
    assert len([m for m in rows(database, Message) if m.direction == Direction.INBOUND]) == 5


def test_one_organizations_faq_never_answers_anothers_customer(
    make_services, database: Database
) -> None:
    services = make_services(database)
    seed_org(services, "acme")
    seed_org(services, "school", faq_csv=SCHOOL_FAQ)
    school_customer = Chat(services, "school", sender="+254700000009")
    school_customer.send("hi")
    replies = school_customer.send("How do I check my balance?")
    assert all("483" not in r.text for r in replies)
    assert replies[0].kind is ReplyKind.CLARIFY
    assert school_customer.send("How do I pay school fees?")[0].text.startswith("Pay school fees")
    # The same phone number is a different contact in each organization.
    Chat(services, "acme", sender="+254700000009").send("hi")
    contacts = rows(database, Contact)
    assert sorted(c.org_id for c in contacts) == sorted({c.org_id for c in contacts})
    with database.read() as session:
        acme = services.organizations.by_slug("acme")
        acme_messages = [m.body for m in OrgData(session, acme.id).messages_of(1)] if acme else []
    assert "How do I pay school fees?" not in acme_messages


def test_a_clarify_reply_without_candidates_is_plain(
    make_services, sqlite_database: Database
) -> None:
    services = make_services(sqlite_database)
    seed_org(services, "acme")
    chat = Chat(services, "acme")
    chat.send("hi")
    assert chat.texts("qqqq") == [CLARIFY_REPLY.msgid]

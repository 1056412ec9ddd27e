"""The dialogue with an organization's Rasa server (a loopback server speaking /model/parse):
a sure intent naming an entry answers with it, even where our retrieval would not; anything
else (slow, down, unsure, unknown intent) leaves the turn to our retrieval, and organizations
without a server never call one."""

from __future__ import annotations

import socket

from imaradesk.bot.intent_backends import IntentBackends
from imaradesk.channels.messages import ReplyKind
from imaradesk.services import Services
from tests.helpers import Chat, seed_org
from tests.nlu.fake_rasa import FakeRasa, serve

ODD = "zzq vlk mrp"  # nothing like any FAQ question: retrieval alone cannot answer it
BALANCE = "Dial *483*1# to see your balance."


def with_rasa(services: Services, slug: str, url: str | None) -> None:
    org = services.organizations.by_slug(slug)
    services.organizations.update(org.id, rasa_url=url)


def test_rasa_intent_answers_with_the_entry_it_names_where_retrieval_would_not(
    make_services,
) -> None:
    services = make_services()
    org = seed_org(services, "wallet")
    retrieval = services.knowledge.search(org.id, ODD, revision=org.kb_revision)
    assert not retrieval.confident, "the proof needs a message retrieval alone cannot answer"
    with serve(FakeRasa(intents={ODD: ("balance", 0.93)})) as fake:
        with_rasa(services, "wallet", fake.url)
        [notice, reply] = Chat(services, "wallet").send(ODD)
    assert notice.kind is ReplyKind.PRIVACY_NOTICE
    assert (reply.kind, reply.text) == (ReplyKind.ANSWER, BALANCE)
    [source] = reply.sources
    assert (source.external_id, source.score) == ("balance", 0.93)
    assert fake.received == [{"text": ODD}]


def test_personal_data_is_redacted_before_it_reaches_the_rasa_server(make_services) -> None:
    services = make_services()
    seed_org(services, "wallet")
    with serve(FakeRasa()) as fake:
        with_rasa(services, "wallet", fake.url)
        Chat(services, "wallet").send("my name is Wanjiru Kamau, call me on 0712 345 678")
    [sent] = fake.received
    assert "Wanjiru" not in sent["text"] and "345" not in sent["text"]
    assert "[PHONE_1]" in sent["text"]


def test_an_unsure_or_unknown_intent_leaves_the_turn_to_retrieval(make_services) -> None:
    """Below the minimum confidence, or an intent that names no entry, retrieval decides: the
    odd message gets a clarifying question and an FAQ question its FAQ answer."""
    services = make_services()
    seed_org(services, "wallet")
    intents = {
        ODD: ("balance", 0.4),
        "How do I reset my PIN?": ("not_an_entry", 0.99),
    }
    with serve(FakeRasa(intents=intents)) as fake:
        with_rasa(services, "wallet", fake.url)
        chat = Chat(services, "wallet")
        odd = chat.send(ODD)[-1]
        pin = chat.send("How do I reset my PIN?")[-1]
    assert odd.kind is ReplyKind.CLARIFY
    assert pin.kind is ReplyKind.ANSWER and pin.sources[0].external_id == "reset-pin"
    assert pin.sources[0].score != 0.99  # retrieval's own confidence, not Rasa's
    assert len(fake.received) == 2


def test_a_slow_broken_or_absent_server_leaves_the_turn_to_retrieval(make_services) -> None:
    services = make_services(rasa_timeout_seconds=0.2)
    seed_org(services, "wallet")
    question = "How do I check my balance?"
    for mode in ("slow", "error", "not_json"):
        with serve(FakeRasa(mode=mode, delay=2.0, intents={question: ("fees", 0.99)})) as fake:
            with_rasa(services, "wallet", fake.url)
            reply = Chat(services, "wallet", sender=f"+2547000000{len(mode):02d}").send(question)[
                -1
            ]
        assert fake.received, mode
        assert (reply.kind, reply.text) == (ReplyKind.ANSWER, BALANCE), mode
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with_rasa(services, "wallet", f"http://127.0.0.1:{port}")
    assert Chat(services, "wallet").send(question)[-1].text == BALANCE


def test_without_a_rasa_url_no_server_is_asked(make_services) -> None:
    services = make_services()
    seed_org(services, "wallet")
    seed_org(services, "school", faq_csv="question,answer\nWhen is term?,In January.\n")
    with serve(FakeRasa(intents={ODD: ("balance", 0.99)})) as fake:
        with_rasa(services, "school", fake.url)  # the other organization has one
        reply = Chat(services, "wallet").send(ODD)[-1]
    assert reply.kind is ReplyKind.CLARIFY
    assert fake.received == []


def test_an_intent_names_only_the_organizations_own_entries(make_services) -> None:
    """Another organization's entry with the intent's name is never an answer."""
    services = make_services()
    seed_org(services, "wallet")
    seed_org(services, "school", faq_csv="id,question,answer\nterm,When is term?,In January.\n")
    with serve(FakeRasa(intents={ODD: ("balance", 0.99)})) as fake:
        with_rasa(services, "school", fake.url)
        reply = Chat(services, "school").send(ODD)[-1]
    assert reply.kind is ReplyKind.CLARIFY and BALANCE not in reply.text


def test_settings_reach_the_backends(make_services) -> None:
    services = make_services(rasa_timeout_seconds=0.7, rasa_min_confidence=0.8)
    intents: IntentBackends = services.intents
    assert (intents.timeout, intents.min_confidence) == (0.7, 0.8)

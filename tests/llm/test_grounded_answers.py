"""Generated answers, grounded in the retrieved entries, through whole turns of the dialogue.

Every provider here is its vendor's real SDK talking to a loopback server that speaks its HTTP
protocol (tests/fakes/llm_servers.py); what that server records is what would have left the
machine. Nothing of our own is replaced: the dialogue, retrieval, gateway, redactor, database
and, for the web chat, a real Flask server all run for real.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlmodel import select

from imaradesk.channels.messages import ReplyKind
from imaradesk.llm.grounded import NO_ANSWER_REPLY
from imaradesk.runtime.i18n import translate
from imaradesk.storage.db import Database
from imaradesk.storage.models import AIUsage
from imaradesk.storage.repositories import OrgData
from tests.fakes.llm_servers import (
    FAKES,
    Fail,
    FakeGemini,
    FakeLLMServer,
    FakeOpenAI,
    Malformed,
    Sleep,
)
from tests.helpers import WALLET_FAQ, Chat, WebVisitor, seed_org

MODELS = {"gemini": "gemini-2.5-flash", "openai": "gpt-4o-mini", "anthropic": "claude-haiku-4-5"}
BALANCE = "How do I check my balance?"
EXTRACTIVE_BALANCE = "Dial *483*1# to see your balance."
GENERATED = "You can dial *483*1# to see your balance [1]."
# Confident for the test embedder, and full of personal data.
WITH_PII = (
    "Hi, I am Wanjiru Kamau. My number is 0712345678 and my email wanjiru.kamau@example.com, "
    "how do I check my balance?"
)
SWAHILI_FAQ = WALLET_FAQ + "balance,Account,Nawezaje kuangalia salio langu?,\n"


@pytest.fixture(params=sorted(FAKES))
def fake(request: pytest.FixtureRequest) -> Iterator[FakeLLMServer]:
    with FAKES[request.param](api_key=f"sk-{request.param}-org-key-5f1c") as server:
        yield server


@pytest.fixture
def gemini() -> Iterator[FakeLLMServer]:
    with FakeGemini(api_key="AIza-org-key-77") as server:
        yield server


def configure(services, slug: str, fake: FakeLLMServer, **changes: object):
    """An organization with its own provider (the fake), allowed and generating by default."""
    org = services.organizations.by_slug(slug)
    settings: dict[str, object] = {
        "external_ai_allowed": True,
        "generative_answers": True,
        "ai_provider": fake.name,
        "ai_model": MODELS[fake.name],
        "ai_api_key": fake.api_key,
        "ai_base_url": fake.base_url,
    }
    settings.update(changes)
    return services.organizations.update(org.id, **settings)


def usage_rows(services, org_id: int) -> list[AIUsage]:
    with services.database.read() as session:
        return list(session.exec(select(AIUsage).where(AIUsage.org_id == org_id)).all())


def last(replies):
    return replies[-1]


# -- the answer ----------------------------------------------------------------------------


def test_each_provider_writes_the_answer_with_a_citation(
    make_services, sqlite_database, fake: FakeLLMServer
) -> None:
    """A confident turn gets the model's text, citation marks replaced by our source line, the
    entry as its source, and one usage row with the tokens the provider reported."""
    services = make_services(sqlite_database)
    org = seed_org(services, "acme")
    configure(services, "acme", fake)
    fake.answer(GENERATED, input_tokens=321, output_tokens=17)
    reply = last(Chat(services, "acme").send(BALANCE))
    assert reply.kind is ReplyKind.ANSWER
    assert reply.text == "You can dial *483*1# to see your balance.\n\nSource: " + BALANCE
    assert [s.external_id for s in reply.sources] == ["balance"]
    assert len(fake.requests) == 1
    [row] = usage_rows(services, org.id)
    assert (row.provider, row.model, row.purpose, row.outcome) == (
        fake.name,
        MODELS[fake.name],
        "grounded_answer",
        "ok",
    )
    assert (row.input_tokens, row.output_tokens) == (321, 17)


def test_the_prompt_holds_only_the_retrieved_passages_and_no_personal_data(
    make_services, sqlite_database, fake: FakeLLMServer
) -> None:
    """The customer's name, number and email never leave; the passages sent are exactly the
    entries retrieval ranked for the question (the best, then those close to it)."""
    services = make_services(sqlite_database)
    org = seed_org(services, "acme")
    configure(services, "acme", fake)
    fake.answer("Dial *483*1# to see it, [PHONE_1] [1].")
    chat = Chat(services, "acme")
    reply = last(chat.send(WITH_PII, profile_name="Wanjiru Kamau"))
    [sent] = fake.requests
    for secret in ("Wanjiru", "Kamau", "0712345678", "712345678", "wanjiru.kamau@example.com"):
        assert secret not in sent.raw
    assert "[PHONE_1]" in sent.raw and "[EMAIL_1]" in sent.raw and "check my balance" in sent.raw

    retrieval = services.knowledge.search(org.id, WITH_PII, revision=org.kb_revision)
    ranked = [c.entry for c in retrieval.candidates if c.similarity >= 0.35]
    assert 2 <= len(ranked) < len(retrieval.candidates), "the test needs some left out"
    for entry in retrieval.candidates:
        assert (entry.entry.answer in sent.raw) == (entry.entry in ranked), entry.entry.external_id
    # The customer's own number comes back in the reply, put back where the model wrote it.
    assert "0712345678" in reply.text


def test_no_answer_in_the_passages_says_so_and_offers_a_person(
    make_services, sqlite_database, gemini: FakeLLMServer
) -> None:
    """NO_ANSWER becomes our sentence and an offer; "yes" then hands off to a person."""
    services = make_services(sqlite_database)
    org = seed_org(services, "acme")
    configure(services, "acme", gemini)
    gemini.answer("NO_ANSWER")
    chat = Chat(services, "acme")
    offer = last(chat.send(BALANCE))
    assert offer.text == translate("en", NO_ANSWER_REPLY)
    assert offer.kind is ReplyKind.CLARIFY and not offer.handoff
    [accepted] = chat.send("yes please")
    assert accepted.handoff and accepted.kind is ReplyKind.HANDOFF
    assert [r.outcome for r in usage_rows(services, org.id)] == ["no_answer"]
    with services.database.read() as session:
        [handoff] = OrgData(session, org.id).handoffs()
    assert handoff.reason == "customer_request"


def test_declining_the_offer_keeps_the_bot(make_services, sqlite_database, gemini) -> None:
    services = make_services(sqlite_database)
    seed_org(services, "acme")
    configure(services, "acme", gemini)
    gemini.answer("NO_ANSWER")
    chat = Chat(services, "acme")
    chat.send(BALANCE)
    [declined] = chat.send("no thanks")
    assert not declined.handoff and "anything else" in declined.text
    # The offer was for one message: a later "yes" is an ordinary message, not a handoff.
    gemini.answer(GENERATED)
    chat.send(BALANCE)
    assert not any(r.handoff for r in chat.send("yes"))


def test_a_swahili_customer_is_answered_and_offered_a_person_in_swahili(
    make_services, sqlite_database, gemini: FakeLLMServer
) -> None:
    """The language comes from the customer's message (lingua); the prompt asks for Swahili."""
    services = make_services(sqlite_database)
    seed_org(services, "acme", faq_csv=SWAHILI_FAQ)
    configure(services, "acme", gemini)
    gemini.answer("NO_ANSWER")
    offer = last(Chat(services, "acme").send("Nawezaje kuangalia salio langu?"))
    assert offer.text == translate("sw", NO_ANSWER_REPLY)
    assert "Reply in Swahili" in gemini.requests[0].raw
    gemini.answer("Piga *483*1# kuona salio lako [1].")
    answer = last(
        Chat(services, "acme", sender="+254700000002").send("Nawezaje kuangalia salio langu?")
    )
    assert answer.text.startswith("Piga *483*1# kuona salio lako.")
    assert answer.text.endswith("Chanzo: " + BALANCE)


def test_a_citation_of_a_passage_not_given_falls_back_to_the_extractive_answer(
    make_services, sqlite_database, gemini: FakeLLMServer
) -> None:
    services = make_services(sqlite_database)
    org = seed_org(services, "acme")
    configure(services, "acme", gemini)
    gemini.then(Fail(500), Malformed())
    gemini.answer("Dial *999# for your balance [7].")
    chat = Chat(services, "acme")
    for _ in range(3):  # a 500, a body that is not JSON, a citation of passage 7
        assert last(chat.send(BALANCE)).text == EXTRACTIVE_BALANCE
    assert [r.outcome for r in usage_rows(services, org.id)] == ["error", "error", "rejected"]


@pytest.mark.parametrize("status", [401, 429, 500])
def test_provider_errors_fall_back_to_the_extractive_answer(
    make_services, sqlite_database, fake: FakeLLMServer, status: int
) -> None:
    services = make_services(sqlite_database)
    org = seed_org(services, "acme")
    configure(services, "acme", fake)
    fake.always(Fail(status))
    reply = last(Chat(services, "acme").send(BALANCE))
    assert reply.kind is ReplyKind.ANSWER and reply.text == EXTRACTIVE_BALANCE
    assert [r.outcome for r in usage_rows(services, org.id)] == ["error"]


def test_a_slow_provider_times_out_and_the_extractive_answer_goes_out(
    make_services, sqlite_database, fake: FakeLLMServer
) -> None:
    """The fake would answer after 30 s; the turn gives up at the 0.5 s timeout instead."""
    services = make_services(sqlite_database, llm_timeout_seconds=0.5)
    org = seed_org(services, "acme")
    configure(services, "acme", fake)
    fake.always(Sleep(30, then=fake.default))
    started = time.monotonic()
    reply = last(Chat(services, "acme").send(BALANCE))
    assert time.monotonic() - started < 10  # generous: far below the fake's 30 s
    assert reply.text == EXTRACTIVE_BALANCE
    assert [r.outcome for r in usage_rows(services, org.id)] == ["timeout"]
    assert len(fake.requests) == 1  # no retry after the timeout


def test_unsure_turns_can_be_answered_from_the_plausible_entries(
    make_services, sqlite_database, gemini: FakeLLMServer
) -> None:
    """Where the bot would list "did you mean" entries, the model may answer from them."""
    services = make_services(sqlite_database)
    seed_org(services, "acme")
    configure(services, "acme", gemini)
    gemini.answer("Dial *483*1# to see your balance money [1].")
    reply = last(Chat(services, "acme").send("where do I see my balance money?"))
    assert reply.kind is ReplyKind.ANSWER
    assert reply.text.startswith("Dial *483*1# to see your balance money.")
    assert "Source: " in reply.text and reply.sources


# -- who may use it ---------------------------------------------------------------------------


def test_an_org_without_external_ai_never_calls_the_provider(
    make_services, sqlite_database, fake: FakeLLMServer
) -> None:
    services = make_services(sqlite_database)
    org = seed_org(services, "acme")
    configure(services, "acme", fake, external_ai_allowed=False)
    assert not services.ai.generates_for(services.organizations.by_slug("acme"))
    assert last(Chat(services, "acme").send(BALANCE)).text == EXTRACTIVE_BALANCE
    assert fake.requests == [] and usage_rows(services, org.id) == []


def test_generative_answers_off_means_the_extractive_answer(
    make_services, sqlite_database, gemini: FakeLLMServer
) -> None:
    services = make_services(sqlite_database)
    seed_org(services, "acme")
    configure(services, "acme", gemini, generative_answers=False)
    assert last(Chat(services, "acme").send(BALANCE)).text == EXTRACTIVE_BALANCE
    assert gemini.requests == []


def test_a_restricted_contact_never_reaches_the_provider(
    make_services, sqlite_database, gemini: FakeLLMServer
) -> None:
    services = make_services(sqlite_database)
    org = seed_org(services, "acme")
    configure(services, "acme", gemini)
    chat = Chat(services, "acme")
    chat.send("hi")
    with services.database.write() as session:
        data = OrgData(session, org.id)
        contact = data.find_contact("whatsapp", chat.sender)
        data.set_restricted(contact, restricted=True)
    fresh = services.organizations.by_slug("acme")
    assert services.ai.generates_for(fresh) and not services.ai.generates_for(fresh, True)
    chat.send(BALANCE)
    assert gemini.requests == []


def test_the_operator_provider_serves_orgs_without_their_own(
    make_services, sqlite_database
) -> None:
    with FakeOpenAI(api_key="sk-operator") as operator:
        services = make_services(
            sqlite_database,
            llm_provider="openai",
            llm_model="gpt-4o-mini",
            llm_api_key="sk-operator",
            llm_base_url=operator.base_url,
        )
        org = seed_org(services, "acme")
        services.organizations.update(org.id, external_ai_allowed=True, generative_answers=True)
        operator.answer(GENERATED)
        assert last(Chat(services, "acme").send(BALANCE)).text.startswith("You can dial")
        assert operator.requests[0].headers["authorization"] == "Bearer sk-operator"


def test_an_orgs_own_provider_replaces_the_operators_and_is_never_mixed(
    make_services, sqlite_database, gemini: FakeLLMServer
) -> None:
    """An organization that chose a provider uses it; half configured (no key), it gets no AI
    at all rather than the operator's vendor."""
    with FakeOpenAI(api_key="sk-operator") as operator:
        services = make_services(
            sqlite_database,
            llm_provider="openai",
            llm_api_key="sk-operator",
            llm_model="gpt-4o-mini",
            llm_base_url=operator.base_url,
        )
        seed_org(services, "acme")
        configure(services, "acme", gemini)
        gemini.answer(GENERATED)
        assert last(Chat(services, "acme").send(BALANCE)).text.startswith("You can dial")
        assert len(gemini.requests) == 1 and operator.requests == []

        configure(services, "acme", gemini, ai_api_key=None)
        assert last(Chat(services, "acme", sender="+254700000009").send(BALANCE)).text == (
            EXTRACTIVE_BALANCE
        )
        assert len(gemini.requests) == 1 and operator.requests == []


# -- records and secrets ---------------------------------------------------------------------


def test_usage_is_recorded_per_organization(make_services, database: Database) -> None:
    """Two organizations, two providers: each row belongs to the organization that called,
    with the tokens its provider reported (SQLite and PostgreSQL)."""
    with FakeGemini(api_key="k-acme") as acme_fake, FakeOpenAI(api_key="k-shule") as shule_fake:
        services = make_services(database)
        acme = seed_org(services, "acme")
        shule = seed_org(services, "shule")
        configure(services, "acme", acme_fake)
        configure(services, "shule", shule_fake)
        acme_fake.answer(GENERATED, input_tokens=400, output_tokens=20)
        shule_fake.answer(GENERATED, input_tokens=90, output_tokens=7)
        Chat(services, "acme").send(BALANCE)
        Chat(services, "acme", sender="+254700000002").send(BALANCE)
        Chat(services, "shule").send(BALANCE)
        acme_rows = usage_rows(services, acme.id)
        shule_rows = usage_rows(services, shule.id)
        assert [(r.provider, r.input_tokens, r.output_tokens) for r in acme_rows] == [
            ("gemini", 400, 20),
            ("gemini", 400, 20),
        ]
        assert [(r.provider, r.input_tokens, r.output_tokens) for r in shule_rows] == [
            ("openai", 90, 7)
        ]
        assert all(r.latency_ms >= 0 for r in acme_rows + shule_rows)
        [total] = services.ai.usage.totals(acme.id)
        assert (total.calls, total.input_tokens, total.output_tokens) == (2, 800, 40)


def test_the_api_key_is_stored_encrypted_and_still_reaches_the_provider(
    make_services, database: Database, fake: FakeLLMServer
) -> None:
    services = make_services(database)
    org = seed_org(services, "acme")
    configure(services, "acme", fake)
    with database.engine.connect() as conn:
        raw = conn.execute(
            text("SELECT ai_api_key FROM organization WHERE id = :id"), {"id": org.id}
        ).scalar_one()
    assert fake.api_key not in raw and "org-key" not in raw
    # The fake refuses any other key: an answer proves the sealed key opened correctly.
    fake.answer(GENERATED)
    assert last(Chat(services, "acme").send(BALANCE)).text.startswith("You can dial")


def test_the_provider_is_called_with_no_write_transaction_open(
    make_services, sqlite_database: Database, gemini: FakeLLMServer
) -> None:
    """While the fake handles the request, another connection can take SQLite's write lock:
    the turn holds none during the call (the probe is shown to detect a held one first)."""
    path = sqlite_database.engine.url.database
    assert path is not None

    def write_lock_free() -> bool:
        conn = sqlite3.connect(path, timeout=0.1)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.rollback()
            return True
        except sqlite3.OperationalError:
            return False
        finally:
            conn.close()

    services = make_services(sqlite_database)
    org = seed_org(services, "acme")
    configure(services, "acme", gemini)
    with sqlite_database.write() as session:
        session.execute(text("UPDATE organization SET name = name WHERE id = :id"), {"id": org.id})
        assert not write_lock_free(), "the probe must see a write transaction"
    seen: list[bool] = []
    gemini.on_request = lambda _request: seen.append(write_lock_free())
    gemini.answer(GENERATED)
    assert last(Chat(services, "acme").send(BALANCE)).text.startswith("You can dial")
    assert seen == [True]


# -- over HTTP ---------------------------------------------------------------------------------


def test_web_chat_on_a_real_server_gets_the_generated_answer(
    make_services, live_server_factory, sqlite_database, fake: FakeLLMServer
) -> None:
    services = make_services(sqlite_database)
    seed_org(services, "acme")
    configure(services, "acme", fake)
    fake.answer(GENERATED)
    server = live_server_factory(services)
    response = WebVisitor(server.url, "acme").send(BALANCE)
    assert response.status_code == 200
    answer = response.json()["replies"][-1]
    assert answer["kind"] == "answer"
    assert answer["text"] == "You can dial *483*1# to see your balance.\n\nSource: " + BALANCE
    assert [s["external_id"] for s in answer["sources"]] == ["balance"]


def test_web_chat_answers_within_budget_when_the_provider_hangs(
    make_services, live_server_factory, sqlite_database, gemini: FakeLLMServer
) -> None:
    services = make_services(sqlite_database, llm_timeout_seconds=0.5)
    seed_org(services, "acme")
    configure(services, "acme", gemini)
    gemini.always(Sleep(30))
    server = live_server_factory(services)
    visitor = WebVisitor(server.url, "acme")
    started = time.monotonic()
    response = visitor.send(BALANCE)
    assert time.monotonic() - started < 10  # generous: far below the fake's 30 s
    assert response.json()["replies"][-1]["text"] == EXTRACTIVE_BALANCE

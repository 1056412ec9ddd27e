"""The conversation page's language labels and machine translation, on a real loopback server.

The provider is the real Gemini SDK talking to a local fake server that speaks Gemini's
protocol; what the fake receives is exactly what would have left the machine.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from sqlmodel import select

from imaradesk.storage.models import Handoff, Message
from tests.fakes.llm_servers import Fail, FakeGemini
from tests.helpers import seed_org
from tests.web.console_helpers import PASSWORD, ConsoleWorld, build_world

SWAHILI = "Habari, nimetuma pesa lakini hazijafika. Nipigie kwa 0712345678 tafadhali"
TRANSLATED = "Hello, I sent money but it has not arrived. Call me on [PHONE_1] please"
BUTTON = "Translate to English"


@pytest.fixture
def gemini() -> Iterator[FakeGemini]:
    with FakeGemini(api_key="AIza-platform-key") as server:
        yield server


def world_with(make_services, live_server_factory, database, gemini: FakeGemini):
    """The console world on a platform whose operator configured the fake Gemini."""
    return build_world(
        make_services,
        live_server_factory,
        database,
        llm_provider="gemini",
        llm_api_key=gemini.api_key,
        llm_base_url=gemini.base_url,
    )


@pytest.fixture
def world(make_services, live_server_factory, sqlite_database, gemini) -> Iterator[ConsoleWorld]:
    world = world_with(make_services, live_server_factory, sqlite_database, gemini)
    yield world
    world.twilio.stop()
    world.smtp.stop()


def swahili_handoff(world: ConsoleWorld) -> tuple[Handoff, Message]:
    """A customer writes in Swahili with their phone number, asks for a person, then says
    "ok"; the handoff and their Swahili message."""
    world.customer_says(SWAHILI)
    world.customer_says("nataka kuongea na mtu")
    world.customer_says("ok")
    with world.services.database.read() as session:
        [handoff] = session.exec(select(Handoff)).all()
        # Bodies are sealed at rest: found among the messages, not by a query on the text.
        [message] = [m for m in session.exec(select(Message)).all() if m.body == SWAHILI]
    return handoff, message


def allow_ai(world: ConsoleWorld, **provider: str) -> None:
    # Turned on only once the customer has written, so no bot turn reached the provider.
    world.services.organizations.update(world.org.id, external_ai_allowed=True, **provider)


def bubble(page: str, text: str) -> str:
    """The HTML of the one message bubble whose text is ``text``."""
    [found] = [b for b in page.split('<div class="bubble')[1:] if f'"text">{text}</span>' in b]
    return found


def translate(session, handoff: Handoff, message: Message):
    return session.post(
        f"/console/handoffs/{handoff.id}/messages/{message.id}/translate",
        csrf_from=f"/console/handoffs/{handoff.id}",
    )


def sent_to_provider(gemini: FakeGemini) -> str:
    return " ".join(r.raw for r in gemini.requests)


@pytest.mark.parametrize("provider", ["platform", "organization"])
def test_an_agent_gets_the_english_of_a_swahili_message_and_the_provider_no_phone_number(
    make_services, live_server_factory, sqlite_database, gemini, provider: str
) -> None:
    """Proves the whole path where AI is allowed, with the operator's provider or the
    organization's own: the button is on the Swahili message, the answer comes back marked as
    a machine translation with the customer's number put back, the provider saw the text with
    the number replaced by a placeholder, and the call is counted in the usage."""
    if provider == "platform":
        world = world_with(make_services, live_server_factory, sqlite_database, gemini)
        settings: dict[str, str] = {}
    else:
        world = build_world(make_services, live_server_factory, sqlite_database)
        settings = {
            "ai_provider": "gemini",
            "ai_model": "gemini-2.5-flash",
            "ai_api_key": gemini.api_key,
            "ai_base_url": gemini.base_url,
        }
    try:
        handoff, message = swahili_handoff(world)
        allow_ai(world, **settings)
        gemini.answer(TRANSLATED)
        session = world.login("chebet@acme.example")
        page = session.get(f"/console/handoffs/{handoff.id}").text
        assert BUTTON in bubble(page, SWAHILI)
        assert BUTTON not in bubble(page, "ok"), "no button where the language is unclear"

        response = translate(session, handoff, message)
        assert response.status_code == 200
        assert "machine translation" in response.text
        assert "Hello, I sent money but it has not arrived. Call me on 0712345678" in response.text

        [request] = gemini.requests
        body = json.dumps(request.body)
        assert "[PHONE_1]" in body and "nimetuma pesa lakini hazijafika" in body
        assert "0712345678" not in request.raw and "712345678" not in request.raw
        [usage] = world.services.ai.usage.totals(world.org.id)
        assert (usage.calls, usage.failures) == (1, 0)
    finally:
        world.twilio.stop()
        world.smtp.stop()


def test_the_language_label_shows_kiswahili_and_nothing_for_an_unclear_message(world) -> None:
    """Proves each customer message carries the language it is plainly written in, that an
    unclear one ("ok") carries none, and that the routing reasons still give the handoff's
    classified language beside them."""
    handoff, _ = swahili_handoff(world)
    session = world.login("amina@acme.example")
    page = session.get(f"/console/handoffs/{handoff.id}").text
    assert re.search(r'data-language="sw">Kiswahili<', bubble(page, SWAHILI))
    assert "data-language" not in bubble(page, "ok")
    assert "language sw" in page, "the routing reasons keep the classified language"
    # The thread's 2-second refresh shows the same labels.
    fragment = session.get(f"/console/handoffs/{handoff.id}/messages").text
    assert 'data-language="sw">Kiswahili<' in bubble(fragment, SWAHILI)
    assert "data-language" not in bubble(fragment, "ok")


def test_an_org_without_ai_gets_no_button_and_a_403_and_nothing_leaves(world, gemini) -> None:
    """Proves that with a provider configured on the platform but the organization keeping its
    data from AI providers (the default), no button is shown, the endpoint refuses with 403,
    and the fake provider receives no request at all."""
    handoff, message = swahili_handoff(world)
    session = world.login("amina@acme.example")
    page = session.get(f"/console/handoffs/{handoff.id}").text
    assert "Kiswahili" in page and BUTTON not in page
    assert "restricted the processing" not in page
    assert translate(session, handoff, message).status_code == 403
    assert gemini.requests == []


def test_a_contact_who_restricted_processing_gets_no_translation(world, gemini) -> None:
    """Proves a customer's restriction is kept even where the organization allows AI: the page
    says why there is no translation, the endpoint refuses with 403, and the provider receives
    nothing of their words."""
    world.customer_says("hello")
    world.customer_says("stop using my messages for your AI")
    handoff, message = swahili_handoff(world)
    allow_ai(world)
    session = world.login("amina@acme.example")
    page = session.get(f"/console/handoffs/{handoff.id}").text
    swahili = bubble(page, SWAHILI)
    assert BUTTON not in swahili and "restricted the processing of their data" in swahili
    assert translate(session, handoff, message).status_code == 403
    assert gemini.requests == []


def test_another_organizations_agent_cannot_translate_this_organizations_message(
    world, gemini
) -> None:
    """Proves the endpoint is scoped to the signed-in agent's organization: an agent of another
    organization that allows AI itself gets 404 for this organization's message, and nothing is
    sent to the provider."""
    handoff, message = swahili_handoff(world)
    allow_ai(world)
    other = seed_org(world.services, "globex")
    world.services.organizations.update(other.id, external_ai_allowed=True)
    world.services.accounts.create(
        other.id,
        email="otieno@globex.example",
        name="Otieno",
        role="admin",
        password=PASSWORD,
        verified=True,
    )
    session = world.login("otieno@globex.example")
    response = session.post(
        f"/console/handoffs/{handoff.id}/messages/{message.id}/translate", csrf_from="/console/"
    )
    assert response.status_code == 404
    assert SWAHILI not in response.text
    assert gemini.requests == []


def test_only_a_customer_message_of_this_conversation_can_be_translated(world, gemini) -> None:
    """Proves the message must belong to the handoff in the URL: a message id from elsewhere
    (here one that does not exist) is not found, and nothing is sent."""
    handoff, message = swahili_handoff(world)
    allow_ai(world)
    session = world.login("amina@acme.example")
    response = session.post(
        f"/console/handoffs/{handoff.id}/messages/{message.id + 1000}/translate",
        csrf_from=f"/console/handoffs/{handoff.id}",
    )
    assert response.status_code == 404
    assert gemini.requests == []


def test_a_failing_or_inventive_provider_gives_the_agent_a_notice_not_a_translation(
    world, gemini
) -> None:
    """Proves a provider error and an answer with a placeholder we never sent (a made-up
    detail) both end in a notice to try again, each recorded in the usage as its outcome."""
    handoff, message = swahili_handoff(world)
    allow_ai(world)
    session = world.login("amina@acme.example")
    gemini.then(Fail(500))
    failed = translate(session, handoff, message)
    assert failed.status_code == 200 and "could not be made" in failed.text
    gemini.answer("Call me on [PHONE_2]")
    invented = translate(session, handoff, message)
    assert "could not be made" in invented.text and "PHONE_2" not in invented.text
    [usage] = world.services.ai.usage.totals(world.org.id)
    assert (usage.calls, usage.failures) == (2, 1)

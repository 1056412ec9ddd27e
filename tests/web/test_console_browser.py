"""End to end in a real headless Chromium (Debian's, driven by Playwright): a signed Twilio
webhook hands a customer to a person; the agent signs in, sees it appear, replies (the local
Twilio API receives it), resolves; the bot answers the customer again and stores the rating."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlmodel import select

from imaradesk.storage.models import Contact, Conversation, Handoff
from tests.conftest import REQUIRE_SERVICES
from tests.web.console_helpers import PASSWORD, build_world

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.browser


@pytest.fixture
def browser():
    if not CHROMIUM.exists():
        if REQUIRE_SERVICES:
            pytest.fail(
                "Debian's chromium is required for the browser tests (apt-get install chromium)"
            )
        pytest.skip("Debian's chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def world(make_services, live_server_factory, sqlite_database):
    world = build_world(make_services, live_server_factory, sqlite_database)
    yield world
    world.twilio.stop()
    world.smtp.stop()


def test_an_agent_handles_a_whatsapp_handoff_in_the_browser(world, browser, tmp_path) -> None:
    page = browser.new_page()
    # The console runs under a CSP without inline scripts: anything it blocks shows here.
    blocked: list[str] = []
    page.on(
        "console",
        lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None,
    )
    page.goto(f"{world.url}/console/login")
    page.fill("#email", "amina@acme.example")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("text=Nothing waiting")

    # The customer asks for a person on WhatsApp; the inbox updates without a reload.
    world.customer_says(
        "My money is missing, I sent 2000 to my mum and she has not received it",
        ProfileName="Wanjiru",
    )
    world.customer_says("nataka kuongea na mtu")
    row = page.wait_for_selector("tr.row >> text=Wanjiru", timeout=10_000)
    assert "urgent" in page.inner_text("#inbox-rows")
    screenshots = Path(os.environ.get("IMARADESK_SCREENSHOTS", tmp_path))
    page.screenshot(path=str(screenshots / "inbox.png"), full_page=True)

    row.click()
    page.wait_for_selector("text=Why it is here")
    assert "team by topic lost money" in page.content()
    assert page.title() == "Wanjiru · ImaraDesk", "a title, not a script"
    suggestions = page.locator("button.use-answer")
    assert suggestions.count() >= 1, "the FAQ entries nearest to the customer's words"
    suggestions.first.click()
    assert page.input_value("#reply-text") == suggestions.first.get_attribute("data-answer")
    page.fill(
        "#reply-text",
        "Hi Wanjiru, I'm Amina. I can see the transfer; it will arrive within the hour.",
    )
    page.click("form[action$='/reply'] button[type=submit]")
    page.wait_for_selector("text=Sent.")
    page.wait_for_selector(".bubble.agent >> text=I'm Amina")
    page.screenshot(path=str(screenshots / "conversation.png"), full_page=True)
    assert world.twilio.received[-1]["Body"].startswith("Hi Wanjiru, I'm Amina.")
    assert world.twilio.received[-1]["To"] == "whatsapp:+254711000111"

    page.click("form[action$='/resolve'] button[type=submit]")
    page.wait_for_selector("text=Resolved.")
    # The customer last wrote in Swahili ("nataka kuongea na mtu"): the rating question and
    # the thanks are in Swahili; their next question, plainly English, is answered in English.
    assert "Ungeipa huduma uliyopata alama ngapi?" in world.twilio.received[-1]["Body"]

    assert world.customer_says("5") == [
        "Asante kwa maoni yako! Kuna jambo lingine naweza kukusaidia?"
    ]
    assert world.customer_says("How do I check my balance?") == [
        "Dial *483*1# to see your balance."
    ]
    with world.services.database.read() as session:
        [handoff] = session.exec(select(Handoff)).all()
    assert (handoff.status, handoff.rating, handoff.assigned_agent_id is not None) == (
        "resolved",
        5,
        True,
    )
    assert blocked == [], "the console's policy blocked part of the console itself"


def test_the_web_chat_page_answers_in_the_browser(world, browser) -> None:
    page = browser.new_page()
    page.goto(f"{world.url}/chat/acme")
    page.fill("#text", "How do I check my balance?")
    page.click("#composer button")
    page.wait_for_selector(".bubble.outbound >> text=Dial *483*1# to see your balance.")
    assert "from: How do I check my balance?" in page.inner_text("#thread")
    page.fill("#text", "I want to talk to a human")
    page.click("#composer button")
    page.wait_for_selector("text=A person will reply here")
    with world.services.database.read() as session:
        [handoff] = session.exec(select(Handoff)).all()
    # The agent's reply reaches the open page by polling.
    world.services.desk.reply(
        world.org, handoff.id, world.services.accounts.get(1), "Hello from Amina"
    )
    page.wait_for_selector(".bubble.agent >> text=Hello from Amina", timeout=10_000)
    # A reload shows the conversation so far, the agent's reply included, once.
    page.reload()
    page.wait_for_selector(".bubble.agent >> text=Hello from Amina")
    thread = page.inner_text("#thread")
    assert thread.count("Hello from Amina") == 1 and "How do I check my balance?" in thread
    # Another browser is another visitor, whatever it claims: guessing the first visitor's
    # address (the server's, read here from the database) reads nothing of theirs.
    with world.services.database.read() as session:
        conversation = session.get(Conversation, handoff.conversation_id)
        address = session.get(Contact, conversation.contact_id).address
    assert address.startswith("web-")
    stranger = browser.new_context()
    other = stranger.new_page()
    other.goto(f"{world.url}/chat/acme")
    other.wait_for_function("() => localStorage.length > 0")
    assert "Hello from Amina" not in other.inner_text("#thread")
    stolen = other.evaluate(
        """async (address) => {
            const r = await fetch("/channels/webchat/acme/messages?" +
                new URLSearchParams({sender: address, after: 0}));
            return [r.status, await r.text()];
        }""",
        address,
    )
    assert stolen[0] == 401 and "Amina" not in stolen[1]
    stranger.close()


def test_the_web_chat_page_in_swahili(world, browser) -> None:
    """A Swahili browser gets the page in Swahili; a Swahili message gets Swahili replies, and
    the page can be switched to English by its own link."""
    context = browser.new_context(locale="sw-KE")
    page = context.new_page()
    page.goto(f"{world.url}/chat/acme")
    assert page.get_attribute("#text", "placeholder") == "Uliza swali…"
    assert page.inner_text("#composer button") == "Tuma"
    page.fill("#text", "nataka kuongea na mtu")
    page.click("#composer button")
    page.wait_for_selector("text=Ninakuunganisha na mhudumu wa timu yetu.")
    assert "Habari, unazungumza na msaidizi wa" in page.inner_text("#thread")
    page.click("nav >> text=English")
    page.wait_for_selector("#composer button >> text=Send")
    context.close()


def test_a_knowledge_manager_uploads_watches_it_finish_and_tries_it(world, browser) -> None:
    """In the browser: the uploaded file appears with its job's state and turns ready without a
    reload (htmx polling of the job record); try-it then shows the answer and its scores."""
    page = browser.new_page()
    page.goto(f"{world.url}/console/login")
    page.fill("#email", "kim@acme.example")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("text=Upload documents")

    rows = "".join(
        f"What is product number {i}?,Product {i} is a savings plan.\n" for i in range(400)
    )
    page.set_input_files(
        "input[type=file]",
        files=[
            {
                "name": "products.csv",
                "mimeType": "text/csv",
                "buffer": (
                    "question,answer\nDo you have a youth account?,Yes: Imara Junior from age 13.\n"
                    + rows
                ).encode(),
            }
        ],
    )
    page.click("form[enctype] button[type=submit]")
    page.wait_for_selector("text=products.csv is being read")
    page.wait_for_selector("#documents-table >> text=401 new", timeout=30_000)

    page.fill("input[name=question]", "do you have a youth account")
    page.click("form[hx-post] button[type=submit]")
    page.wait_for_selector("#try-result >> text=Yes: Imara Junior from age 13.", timeout=10_000)
    assert "products.csv" in page.inner_text("#try-result")

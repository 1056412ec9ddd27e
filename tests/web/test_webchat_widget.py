"""The embeddable web chat in a real headless Chromium, on a page of another origin.

A static page served on its own loopback port carries only the one script tag, as a business's
site would; the desk runs on another port. The visitor chats, gets an agent's message, reloads
and finds the conversation; another browser finds nothing of it; the widget passes axe-core's
WCAG 2.1 A and AA rules; a Swahili browser gets it in Swahili.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlmodel import select

from imaradesk.storage.models import Conversation
from tests.helpers import seed_org
from tests.web.test_console_browser import browser  # noqa: F401  (the Chromium fixture)

pytestmark = pytest.mark.browser

WCAG_21_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}


@pytest.fixture
def desk(make_services, live_server_factory, sqlite_database):
    services = make_services(sqlite_database)
    seed_org(services, "acme")
    return live_server_factory(services)


@pytest.fixture
def shop(desk) -> Iterator[str]:
    """The business's own site: another origin, one script tag."""
    page = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Acme shop</title>'
        "</head><body><main><h1>Acme shop</h1><p>Welcome.</p></main>"
        f'<script src="{desk.url}/static/widget.js" data-org="acme" async></script>'
        "</body></html>"
    ).encode()

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def open_chat(page, shop: str) -> None:
    page.goto(shop)
    # Playwright's CSS selectors reach into the widget's open shadow root.
    page.click("button.launcher")
    page.wait_for_selector("section.panel:not([hidden])")


def violations(results) -> list[tuple[str, str, list[str]]]:
    """axe's findings, short: rule, what it wants, and the elements that break it."""
    return [
        (v["id"], v["help"], [str(n["target"]) for n in v["nodes"]])
        for v in results.response["violations"]
    ]


def send(page, text: str) -> None:
    page.fill("#text", text)
    page.press("#text", "Enter")


def test_a_visitor_chats_from_another_site_and_finds_it_again_after_a_reload(
    desk,
    shop,
    browser,  # noqa: F811
) -> None:
    context = browser.new_context()
    page = context.new_page()
    open_chat(page, shop)
    assert page.get_attribute("button.launcher", "aria-expanded") == "true"
    send(page, "How do I check my balance?")
    page.wait_for_selector(".bubble.bot >> text=Dial *483*1# to see your balance.")
    assert "from: How do I check my balance?" in page.inner_text(".thread")

    # A person writes to the visitor: it arrives through the poll, without a reload.
    services = desk.services
    org = services.organizations.by_slug("acme")
    with services.database.read() as session:
        [conversation] = session.exec(
            select(Conversation).where(Conversation.channel == "webchat")
        ).all()
    services.outbound.send_text(org, conversation, "Hello from Amina", agent_id=None)
    page.wait_for_selector(".bubble >> text=Hello from Amina", timeout=10_000)

    page.reload()
    open_chat(page, shop)
    page.wait_for_selector(".bubble.you >> text=How do I check my balance?")
    thread = page.inner_text(".thread")
    assert thread.count("Hello from Amina") == 1 and "Dial *483*1#" in thread

    stranger = browser.new_context()
    other = stranger.new_page()
    open_chat(other, shop)
    send(other, "hi")
    other.wait_for_selector(".bubble.bot")
    assert "Amina" not in other.inner_text(".thread"), "another browser is another visitor"
    stranger.close()
    context.close()


def test_the_widget_meets_wcag_21_aa(desk, shop, browser) -> None:  # noqa: F811
    from axe_playwright_python.sync_playwright import Axe

    page = browser.new_page()
    page.goto(shop)
    page.wait_for_selector("button.launcher")
    closed = Axe().run(page, options=WCAG_21_AA)
    assert closed.violations_count == 0, violations(closed)
    open_chat(page, shop)
    send(page, "How do I check my balance?")
    page.wait_for_selector(".bubble.bot >> text=Dial *483*1#")
    opened = Axe().run(page, options=WCAG_21_AA)
    assert opened.violations_count == 0, violations(opened)
    # Keyboard: Escape closes the panel and gives the focus back to the launcher.
    page.press("#text", "Escape")
    assert page.get_attribute("button.launcher", "aria-expanded") == "false"
    assert (
        page.evaluate(
            "() => document.querySelector('[data-imaradesk-widget]').shadowRoot"
            ".activeElement.className"
        )
        == "launcher"
    )


def test_a_swahili_browser_gets_the_widget_and_the_bot_in_swahili(
    desk,
    shop,
    browser,  # noqa: F811
) -> None:
    context = browser.new_context(locale="sw-KE")
    page = context.new_page()
    page.goto(shop)
    page.wait_for_selector("button.launcher")
    assert page.inner_text("button.launcher") == "Gumzo"
    assert page.get_attribute("button.launcher", "aria-label") == "Fungua gumzo na Acme"
    open_chat(page, shop)
    assert page.get_attribute("#text", "placeholder") == "Uliza swali…"
    send(page, "nataka kuongea na mtu")
    page.wait_for_selector("text=Ninakuunganisha na mhudumu wa timu yetu.")
    assert "Habari, unazungumza na msaidizi wa Acme" in page.inner_text(".thread")
    context.close()


def test_a_swahili_visitor_confirms_erasure_by_clicking_a_button(
    desk,
    shop,
    browser,  # noqa: F811
) -> None:
    """The product's yes/no question arrives as two buttons in Swahili; clicking one sends its
    id (what the visitor could have typed), the data goes, and the confirmation shows."""
    from imaradesk.storage.models import Contact

    context = browser.new_context(locale="sw-KE")
    page = context.new_page()
    open_chat(page, shop)
    send(page, "Habari, ninawezaje kuangalia salio?")
    page.wait_for_selector(".bubble.bot")
    send(page, "Tafadhali futa data yangu yote")
    page.wait_for_selector("button.choice >> text=Ndiyo, futa")
    labels = page.locator("button.choice").all_inner_texts()
    assert labels == ["Ndiyo, futa", "Hapana, zihifadhi"], "words, not ids, on the buttons"
    page.click("button.choice >> text=Ndiyo, futa")
    page.wait_for_selector(".bubble.bot >> text=tumefuta data yote", timeout=10_000)
    assert page.locator("button.choice").count() == 0, "a choice is made once"
    assert page.locator(".bubble.you").last.inner_text().endswith("Ndiyo, futa")
    with desk.services.database.read() as session:
        assert session.exec(select(Contact).where(Contact.channel == "webchat")).all() == []
    context.close()

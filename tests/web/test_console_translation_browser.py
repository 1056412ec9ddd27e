"""The translation button in a real headless Chromium: the translation appears under the message
and stays there while the thread refreshes itself every 2 seconds."""

from __future__ import annotations

import pytest

from tests.fakes.llm_servers import FakeGemini
from tests.web.console_helpers import PASSWORD
from tests.web.test_console_browser import browser  # noqa: F401  (the Chromium fixture)
from tests.web.test_console_translation import (
    SWAHILI,
    TRANSLATED,
    allow_ai,
    swahili_handoff,
    world_with,
)

pytestmark = pytest.mark.browser


def test_a_translation_survives_the_threads_refresh(
    make_services,
    live_server_factory,
    sqlite_database,
    browser,  # noqa: F811
) -> None:
    """Proves the agent's click brings the machine translation under the Swahili message (the
    htmx form carries the CSRF token), and that the thread's polling, which re-renders every
    message, keeps it rather than wiping it."""
    with FakeGemini(api_key="AIza-platform-key") as gemini:
        world = world_with(make_services, live_server_factory, sqlite_database, gemini)
        try:
            handoff, message = swahili_handoff(world)
            allow_ai(world)
            gemini.answer(TRANSLATED)
            page = browser.new_page()
            page.goto(f"{world.url}/console/login")
            page.fill("#email", "amina@acme.example")
            page.fill("#password", PASSWORD)
            page.click("button[type=submit]")
            page.goto(f"{world.url}/console/handoffs/{handoff.id}")
            bubble = f".bubble[data-message='{message.id}']"
            assert SWAHILI in page.inner_text(bubble)
            page.click(f"{bubble} button:has-text('Translate to English')")
            shown = page.wait_for_selector(f"#translation-{message.id} >> text=machine translation")
            assert shown is not None
            for _ in range(2):  # two refreshes of the thread
                with page.expect_response(lambda r: r.url.endswith("/messages")):
                    pass
            text = page.inner_text(f"#translation-{message.id}")
            assert "Call me on 0712345678" in text and "machine translation" in text
            assert len(gemini.requests) == 1
        finally:
            world.twilio.stop()
            world.smtp.stop()

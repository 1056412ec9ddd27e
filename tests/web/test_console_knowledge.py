"""The console's knowledge pages, through a real server: what a knowledge manager does."""

from __future__ import annotations

import re

import pytest

from tests.web.console_helpers import build_world


@pytest.fixture
def world(make_services, live_server_factory, sqlite_database):
    world = build_world(make_services, live_server_factory, sqlite_database)
    yield world
    world.twilio.stop()
    world.smtp.stop()


def _entry_id(page: str, question: str) -> int:
    match = re.search(r'/console/knowledge/entries/(\d+)">' + re.escape(question), page)
    assert match, f"{question!r} is not listed"
    return int(match.group(1))


def test_add_edit_disable_and_delete_an_entry_change_the_bots_answers(world) -> None:
    """Each edit in the console is what customers get on their next message."""
    kim = world.login("kim@acme.example")
    added = kim.post(
        "/console/knowledge/entries/new",
        {
            "question": "Do you lend to farmers?",
            "answer": "Yes: the Shamba loan, up to KES 50,000.",
            "phrasings": "Is there a loan for farmers?\nkilimo loan",
        },
        csrf_from="/console/knowledge/entries/new",
    )
    assert "Entry added" in added.text
    assert world.customer_says("Is there a loan for farmers?")[-1].startswith("Yes: the Shamba")

    page = kim.get("/console/knowledge", params={"q": "shamba"}).text
    entry_id = _entry_id(page, "Do you lend to farmers?")
    form = kim.get(f"/console/knowledge/entries/{entry_id}").text
    assert "kilimo loan" in form, "the edit form shows the other phrasings"
    kim.post(
        f"/console/knowledge/entries/{entry_id}",
        {
            "question": "Do you lend to farmers?",
            "answer": "Yes: the Shamba loan, up to KES 80,000.",
            "phrasings": "Is there a loan for farmers?",
        },
        csrf_from=f"/console/knowledge/entries/{entry_id}",
    )
    assert world.customer_says("Do you lend to farmers?")[-1].endswith("80,000.")

    kim.post(f"/console/knowledge/entries/{entry_id}/toggle", {}, csrf_from="/console/knowledge")
    assert not world.customer_says("Do you lend to farmers?")[-1].startswith("Yes: the Shamba")
    assert "disabled" in kim.get("/console/knowledge", params={"q": "shamba"}).text

    kim.post(f"/console/knowledge/entries/{entry_id}/delete", {}, csrf_from="/console/knowledge")
    assert kim.get(f"/console/knowledge/entries/{entry_id}").status_code == 404


def test_invalid_entry_is_refused_with_its_reason(world) -> None:
    kim = world.login("kim@acme.example")
    response = kim.post(
        "/console/knowledge/entries/new",
        {"question": "   ", "answer": "something"},
        csrf_from="/console/knowledge/entries/new",
    )
    assert response.status_code == 400 and "question cannot be empty" in response.text


def test_try_it_shows_the_answer_its_source_and_scores(world) -> None:
    kim = world.login("kim@acme.example")
    shown = kim.post(
        "/console/knowledge/try",
        {"question": "how do i check my balance"},
        csrf_from="/console/knowledge",
    ).text
    assert "Answers" in shown and "Dial *483*1#" in shown
    assert re.search(r"<td>0\.\d{3}</td>", shown), "similarity scores are shown"
    before = world.services.database
    with before.read() as session:
        from sqlmodel import func, select

        from imaradesk.storage.models import Message

        assert session.exec(select(func.count()).select_from(Message)).one() == 0, (
            "trying a question records nothing"
        )


def test_unanswered_questions_are_grouped_and_masked(world) -> None:
    """Questions the bot could not answer appear grouped, without the customer's number."""
    for sender, text in [
        ("+254711000001", "Can I get a loan for my matatu business?"),
        ("+254711000002", "can i get a loan for my matatu business please"),
        ("+254711000003", "Do you sell airtime to Uganda? call me on 0722 123 456"),
    ]:
        world.customer_says(text, phone=sender)
    kim = world.login("kim@acme.example")
    page = kim.get("/console/knowledge/unanswered").text
    assert "2 ×" in page and "matatu" in page
    assert "0722 123 456" not in page and "Uganda" in page


def test_tokens_are_made_shown_once_and_revoked_by_admins_only(world) -> None:
    import requests

    chebet = world.login("chebet@acme.example")
    issued = chebet.post(
        "/console/knowledge/tokens", {"name": "wiki sync"}, csrf_from="/console/knowledge"
    )
    assert issued.headers["Cache-Control"] == "no-store"
    secret = re.search(r'<code id="token">([^<]+)</code>', issued.text).group(1)
    api = f"{world.url}/api/v1/entries"
    headers = {"Authorization": f"Bearer {secret}"}
    assert requests.get(api, headers=headers, timeout=10).status_code == 200
    page = chebet.get("/console/knowledge").text
    assert secret not in page, "the secret is never shown again"
    token_id = re.search(r"/console/knowledge/tokens/(\d+)/revoke", page).group(1)
    chebet.post(f"/console/knowledge/tokens/{token_id}/revoke", {}, csrf_from="/console/knowledge")
    assert requests.get(api, headers=headers, timeout=10).status_code == 401

    kim = world.login("kim@acme.example")
    refused = kim.post("/console/knowledge/tokens", {"name": "x"}, csrf_from="/console/knowledge")
    assert refused.status_code == 403, "knowledge managers cannot mint API tokens"
    amina = world.login("amina@acme.example")
    assert amina.get("/console/knowledge").status_code == 403, "agents do not edit knowledge"


def test_an_entry_keeps_its_answer_in_swahili_beside_the_english_one(world) -> None:
    """The form has an answer box per language the bot speaks; what is saved reaches the
    snapshot the bot answers from, and clearing the box removes the translation."""
    kim = world.login("kim@acme.example")
    kim.post(
        "/console/knowledge/entries/new",
        {
            "question": "Do you lend to farmers?",
            "answer": "Yes: the Shamba loan, up to KES 50,000.",
            "language": "en",
            "answer_sw": "Ndiyo: mkopo wa Shamba, hadi KES 50,000.",
        },
        csrf_from="/console/knowledge/entries/new",
    )
    page = kim.get("/console/knowledge", params={"q": "shamba"}).text
    entry_id = _entry_id(page, "Do you lend to farmers?")
    form = kim.get(f"/console/knowledge/entries/{entry_id}").text
    assert "Answer in Kiswahili" in form and "Ndiyo: mkopo wa Shamba" in form

    services = world.services
    org = services.organizations.by_slug(world.org.slug)
    entry = services.knowledge.snapshot(org.id, revision=org.kb_revision).entries[entry_id]
    assert entry.answer_in("sw") == ("Ndiyo: mkopo wa Shamba, hadi KES 50,000.", "sw")

    kim.post(
        f"/console/knowledge/entries/{entry_id}",
        {
            "question": "Do you lend to farmers?",
            "answer": "Yes: the Shamba loan, up to KES 50,000.",
            "language": "en",
            "answer_sw": "",
        },
        csrf_from=f"/console/knowledge/entries/{entry_id}",
    )
    org = services.organizations.by_slug(world.org.slug)
    entry = services.knowledge.snapshot(org.id, revision=org.kb_revision).entries[entry_id]
    assert entry.translations == ()
    assert entry.answer_in("sw") == ("Yes: the Shamba loan, up to KES 50,000.", "en")


def test_an_unknown_answer_language_is_refused(world) -> None:
    kim = world.login("kim@acme.example")
    response = kim.post(
        "/console/knowledge/entries/new",
        {"question": "Q?", "answer": "A.", "language": "klingon"},
        csrf_from="/console/knowledge/entries/new",
    )
    assert response.status_code == 400 and "unknown language" in response.text

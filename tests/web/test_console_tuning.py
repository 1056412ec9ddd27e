"""The tuning switch on the console's knowledge page, through a real server: admins only."""

from __future__ import annotations

import pytest

from tests.web.console_helpers import build_world


@pytest.fixture
def world(make_services, live_server_factory, sqlite_database):
    world = build_world(make_services, live_server_factory, sqlite_database)
    yield world
    world.twilio.stop()
    world.smtp.stop()


def test_only_an_admin_may_turn_tuning_on(world) -> None:
    """An agent and a knowledge manager are refused (403) and change nothing; neither sees
    the switch on the page."""
    amina = world.login("amina@acme.example")
    assert amina.post("/console/knowledge/tuning", {"tuning_opt_in": "on"}).status_code == 403
    kim = world.login("kim@acme.example")
    assert "Turn on here" not in kim.get("/console/knowledge").text
    refused = kim.post(
        "/console/knowledge/tuning", {"tuning_opt_in": "on"}, csrf_from="/console/knowledge"
    )
    assert refused.status_code == 403
    assert not world.services.organizations.get(world.org.id).tuning_opt_in


def test_an_admin_turns_tuning_on_for_an_excluded_organization_and_off_again(world) -> None:
    """The page says what tuning does and that it is off while the organization is excluded
    from training; the admin's switch turns it on (refit at the next revision) and off."""
    services = world.services
    services.organizations.update(world.org.id, exclude_from_training=True)
    chebet = world.login("chebet@acme.example")
    page = chebet.get("/console/knowledge").text
    assert "adapted to your own phrasings" in page and "never serves another organization" in page
    assert "Tuning is <strong>off</strong> (the organization is excluded from training)" in page
    before = services.organizations.get(world.org.id).kb_revision

    turned_on = chebet.post(
        "/console/knowledge/tuning", {"tuning_opt_in": "on"}, csrf_from="/console/knowledge"
    )
    assert turned_on.status_code == 200 and "Tuning is turned on here" in turned_on.text
    assert "Tuning is <strong>on</strong> (turned on here)" in turned_on.text
    org = services.organizations.get(world.org.id)
    assert org.tuning_opt_in and org.kb_revision == before + 1

    turned_off = chebet.post(
        "/console/knowledge/tuning", {"tuning_opt_in": "off"}, csrf_from="/console/knowledge"
    )
    assert "Tuning is <strong>off</strong>" in turned_off.text
    assert not services.organizations.get(world.org.id).tuning_opt_in


def test_the_switch_needs_the_csrf_token(world) -> None:
    """Like the page's other forms: a post without the session's token changes nothing."""
    chebet = world.login("chebet@acme.example")
    forged = chebet.post("/console/knowledge/tuning", {"tuning_opt_in": "on", "csrf_token": "x"})
    assert forged.status_code == 400
    assert not world.services.organizations.get(world.org.id).tuning_opt_in

"""The console's channels page on a real loopback server: an admin connects the WhatsApp Cloud
API (secrets write-only, sealed), syncs the approved templates from a local Graph API, and
copies the web chat's embed code; nobody else may."""

from __future__ import annotations

import pytest

from tests.fakes.graph_api import FakeGraphApi
from tests.web.console_helpers import build_world

PHONE_NUMBER_ID, TOKEN = "106540352242922", "EAAG-console-token"
SECRETS = {
    "meta_app_secret": "console-app-secret",
    "meta_access_token": TOKEN,
    "meta_verify_token": "console-verify-token",
}


@pytest.fixture
def graph():
    fake = FakeGraphApi(PHONE_NUMBER_ID, TOKEN).start()
    fake.templates = [
        {
            "name": "order_update",
            "language": "sw",
            "status": "APPROVED",
            "category": "UTILITY",
            "components": [{"type": "BODY", "text": "Oda yako {{1}} imetumwa."}],
        },
        {"name": "spam", "language": "en", "status": "REJECTED", "components": []},
    ]
    yield fake
    fake.stop()


@pytest.fixture
def world(make_services, live_server_factory, sqlite_database, graph):
    world = build_world(
        make_services, live_server_factory, sqlite_database, meta_graph_base_url=graph.url
    )
    yield world
    world.twilio.stop()
    world.smtp.stop()


def test_an_admin_connects_meta_syncs_templates_and_sees_the_embed_code(world, graph) -> None:
    admin = world.login("chebet@acme.example")
    page = admin.get("/console/channels")
    assert page.status_code == 200 and "not connected" in page.text
    assert 'data-org="acme"' in page.text.replace("&#34;", '"').replace("&quot;", '"')
    assert "/channels/meta/acme/webhook" in page.text

    half = admin.post(
        "/console/channels/meta",
        {"phone_number_id": PHONE_NUMBER_ID, "meta_app_secret": "only-one"},
        csrf_from="/console/channels",
    )
    assert half.status_code == 400 and "access token" in half.text, "all three secrets, or none"
    assert world.services.organizations.by_slug("acme").meta_phone_number_id is None

    saved = admin.post(
        "/console/channels/meta",
        {"phone_number_id": PHONE_NUMBER_ID, "waba_id": graph.waba_id, **SECRETS},
        csrf_from="/console/channels",
    )
    assert saved.status_code == 200 and "connected" in saved.text
    assert all(secret not in saved.text for secret in SECRETS.values()), "write-only"
    org = world.services.organizations.by_slug("acme")
    assert (org.meta_phone_number_id, org.meta_access_token) == (PHONE_NUMBER_ID, TOKEN)

    kept = admin.post(
        "/console/channels/meta", {"waba_id": graph.waba_id}, csrf_from="/console/channels"
    )
    assert kept.status_code == 200
    assert world.services.organizations.by_slug("acme").meta_app_secret == "console-app-secret"

    synced = admin.post("/console/channels/templates/sync", csrf_from="/console/channels")
    assert "1 approved at Meta: 1 added" in synced.text
    assert "Oda yako {{1}} imetumwa." in synced.text and "spam" not in synced.text

    off = admin.post("/console/channels/meta/off", csrf_from="/console/channels")
    assert "not connected" in off.text
    org = world.services.organizations.by_slug("acme")
    assert (org.meta_phone_number_id, org.meta_app_secret, org.meta_access_token) == (None,) * 3


def test_only_admins_reach_the_channels_page(world) -> None:
    for email in ("amina@acme.example", "kim@acme.example"):
        session = world.login(email)
        assert session.get("/console/channels").status_code == 403, email
        refused = session.post(
            "/console/channels/meta", {"phone_number_id": "1234567"}, csrf_from="/console/"
        )
        assert refused.status_code == 403, email
    assert world.services.organizations.by_slug("acme").meta_phone_number_id is None


def test_a_sync_that_meta_refuses_says_so(world, graph) -> None:
    world.services.organizations.update(
        world.org.id,
        meta_phone_number_id=PHONE_NUMBER_ID,
        meta_waba_id=graph.waba_id,
        **SECRETS,
    )
    graph.errors = [(401, 190)]
    admin = world.login("chebet@acme.example")
    refused = admin.post("/console/channels/templates/sync", csrf_from="/console/channels")
    assert refused.status_code == 400 and "error 190" in refused.text

"""The agent console on a real loopback server: sign-in, the inbox, replies that reach a local
Twilio API, the 24-hour window, resolving with a rating, and what each account may see."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from urllib.parse import urlparse

import pytest
from sqlmodel import select

from imaradesk.storage.models import Handoff, Message
from tests.web.console_helpers import PASSWORD, SENDER, build_world


@pytest.fixture
def world(make_services, live_server_factory, sqlite_database):
    world = build_world(make_services, live_server_factory, sqlite_database)
    yield world
    world.twilio.stop()
    world.smtp.stop()


def handoffs(world) -> list[Handoff]:
    with world.services.database.read() as session:
        return list(session.exec(select(Handoff).order_by(Handoff.id)).all())


@pytest.fixture
def proxied(make_services, live_server_factory, sqlite_database):
    """The console behind one trusted proxy: X-Forwarded-For says who the client is."""
    world = build_world(make_services, live_server_factory, sqlite_database, trusted_proxy_count=1)
    yield world
    world.twilio.stop()
    world.smtp.stop()


def without_csrf(page: str) -> str:
    import re

    return re.sub(r'(csrf_token" value=|X-CSRFToken": )"[^"]+"', "TOKEN", page)


def login_from(world, address: str, email: str, password: str):
    from tests.web.console_helpers import ConsoleSession

    session = ConsoleSession(world.url)
    session.http.headers["X-Forwarded-For"] = address
    return session.login(email, password)


def test_guessing_from_one_address_is_stopped_without_locking_the_owner_out(proxied) -> None:
    """Five wrong passwords from one address stop that address trying that email (429), with
    the same answer whether or not the account exists; the owner, elsewhere, still signs in:
    nobody can lock a colleague out by guessing at their address."""
    attacker = "203.0.113.9"
    for email in ("brian@acme.example", "nobody@acme.example"):
        for _ in range(5):
            wrong = login_from(proxied, attacker, email, "wrong password!")
            assert wrong.status_code == 401 and "wrong email or password" in wrong.text
        stopped = login_from(proxied, attacker, email, PASSWORD)
        assert stopped.status_code == 429, email
        assert stopped.headers.get("Retry-After"), "says when to come back"
    known = login_from(proxied, attacker, "brian@acme.example", PASSWORD)
    unknown = login_from(proxied, attacker, "nobody@acme.example", PASSWORD)
    assert "try again in 15 minutes" in known.text
    assert (known.status_code, without_csrf(known.text)) == (
        unknown.status_code,
        without_csrf(unknown.text),
    ), "a stopped guesser learns nothing about which addresses have accounts"
    owner = login_from(proxied, "198.51.100.20", "brian@acme.example", PASSWORD)
    assert owner.status_code == 200 and "Sign out" in owner.text


def test_a_locked_account_answers_like_any_wrong_password(proxied) -> None:
    """The backstop lock (many addresses guessing one account) is told only to someone who
    knows the password; a guesser gets the unknown account's answer."""
    from imaradesk.console.accounts import MAX_FAILED_LOGINS

    for n in range(MAX_FAILED_LOGINS):
        login_from(proxied, f"203.0.113.{n % 250}", "brian@acme.example", "wrong password!")
    guess = login_from(proxied, "192.0.2.1", "brian@acme.example", "another wrong one")
    nobody = login_from(proxied, "192.0.2.2", "nobody@acme.example", "another wrong one")
    assert guess.status_code == nobody.status_code == 401
    assert "wrong email or password" in guess.text and "too many" not in guess.text
    owner = login_from(proxied, "192.0.2.3", "brian@acme.example", PASSWORD)
    assert owner.status_code == 401 and "too many failed attempts" in owner.text


def test_disabling_an_account_ends_its_live_session_and_its_sign_in(world) -> None:
    """Proves offboarding works at once: a signed-in agent's next request is sent to sign-in,
    the right password no longer opens the console, and their open conversation is released."""
    from tests.web.console_helpers import ConsoleSession

    world.customer_says("My money is missing, it was not received")
    world.customer_says("agent please")
    [handoff] = handoffs(world)
    assert handoff.assigned_agent_id is not None
    agent = world.services.accounts.get(handoff.assigned_agent_id)
    session = world.login(agent.email)
    assert session.get("/console/").status_code == 200
    world.services.accounts.disable(agent.org_id, agent.email.upper())
    after = session.http.get(f"{world.url}/console/", allow_redirects=False, timeout=10)
    assert after.status_code == 302 and "/console/login" in after.headers["Location"]
    again = ConsoleSession(world.url).login(agent.email, PASSWORD)
    assert again.status_code == 401 and "wrong email or password" in again.text
    [released] = handoffs(world)
    assert released.assigned_agent_id is None, "their open conversation goes back to the queue"


def test_a_password_reset_ends_the_sessions_signed_in_with_the_old_password(world) -> None:
    """Proves a reset locks out whoever had the old password and is signed in with it."""
    from tests.web.console_helpers import ConsoleSession

    intruder = world.login("brian@acme.example")
    assert intruder.get("/console/").status_code == 200
    owner = ConsoleSession(world.url)
    owner.post("/console/reset", {"email": "brian@acme.example"}, csrf_from="/console/reset")
    path = urlparse(world.smtp.link(world.smtp.wait_for("brian@acme.example"))).path
    owner.post(
        path, {"password": "brand new phrase", "confirm": "brand new phrase"}, csrf_from=path
    )
    after = intruder.http.get(f"{world.url}/console/", allow_redirects=False, timeout=10)
    assert after.status_code == 302 and "/console/login" in after.headers["Location"]
    assert (
        "Sign out" in ConsoleSession(world.url).login("brian@acme.example", "brand new phrase").text
    )


def test_the_session_cookie_is_httponly_and_samesite(world) -> None:
    from tests.web.console_helpers import ConsoleSession

    session = ConsoleSession(world.url)
    token = session.csrf()
    response = session.http.post(
        f"{world.url}/console/login",
        data={"email": "amina@acme.example", "password": PASSWORD, "csrf_token": token},
        allow_redirects=False,
        timeout=10,
    )
    set_cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie


def test_the_console_refuses_to_be_framed_while_the_chat_page_may_be_embedded(world) -> None:
    """Proves the clickjacking defence covers the console and leaves the web-chat embeddable."""
    import requests

    login = requests.get(f"{world.url}/console/login", timeout=10)
    assert login.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in login.headers["Content-Security-Policy"]
    assert login.headers["X-Content-Type-Options"] == "nosniff"
    policy = login.headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "object-src 'none'" in policy, "no inline script"
    assert "Strict-Transport-Security" not in login.headers, "HSTS is for production (HTTPS)"
    chat = requests.get(f"{world.url}/chat/acme", timeout=10)
    assert chat.status_code == 200 and "X-Frame-Options" not in chat.headers
    assert chat.headers["X-Content-Type-Options"] == "nosniff"


def test_production_tells_browsers_to_keep_to_https(make_services, sqlite_database) -> None:
    from imaradesk.app import create_app

    services = make_services(sqlite_database)
    production = services.settings.model_copy(update={"environment": "production"})
    client = create_app(services=replace(services, settings=production)).test_client()
    response = client.get("/console/login")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")


def test_every_form_needs_its_csrf_token(world) -> None:
    world.customer_says("I want to talk to an agent")
    session = world.login("amina@acme.example")
    [handoff] = handoffs(world)
    forged = session.http.post(
        f"{world.url}/console/handoffs/{handoff.id}/reply", data={"text": "hi"}, timeout=10
    )
    assert forged.status_code == 400 and "CSRF" in forged.text
    assert world.twilio.received == []
    from tests.web.console_helpers import ConsoleSession

    anonymous = ConsoleSession(world.url)
    no_token_login = anonymous.http.post(
        f"{world.url}/console/login",
        data={"email": "amina@acme.example", "password": PASSWORD},
        timeout=10,
    )
    assert no_token_login.status_code == 400


def test_a_handoff_appears_routed_and_the_reply_reaches_twilio(world) -> None:
    world.customer_says(
        "My money is missing, I sent 5000 yesterday and it was not received", ProfileName="Wanjiru"
    )
    world.customer_says("agent please")
    [handoff] = handoffs(world)
    assert handoff.topic == "lost money" and handoff.urgency == "high" and handoff.language == "en"
    session = world.login("amina@acme.example")
    rows = session.get("/console/inbox/rows").text
    assert "Wanjiru" in rows and "urgent" in rows and "Payments" in rows and "Amina" in rows
    page = session.get(f"/console/handoffs/{handoff.id}").text
    assert "team by topic lost money" in page and "money is missing" in page.lower()

    long_reply = "We are checking the transfer. " * 80
    response = session.post(
        f"/console/handoffs/{handoff.id}/reply",
        {"text": long_reply},
        csrf_from=f"/console/handoffs/{handoff.id}",
    )
    assert response.status_code == 200 and "Sent." in response.text
    assert len(world.twilio.received) >= 2, "a reply over 1,600 characters is split"
    for sent in world.twilio.received:
        assert sent["To"] == "whatsapp:+254711000111" and sent["From"] == SENDER
        assert len(sent["Body"]) <= 1600
    with world.services.database.read() as session_db:
        agent_messages = session_db.exec(select(Message).where(Message.kind == "agent")).all()
    assert all(m.provider_message_id and m.delivery_status == "queued" for m in agent_messages)


def test_a_failed_send_is_shown_and_can_be_retried(world) -> None:
    world.customer_says("agent please")
    [handoff] = handoffs(world)
    session = world.login("amina@acme.example")
    world.twilio.fail_next = 3  # the sender retries twice: all three attempts fail
    page = session.post(
        f"/console/handoffs/{handoff.id}/reply",
        {"text": "Hello from Amina"},
        csrf_from=f"/console/handoffs/{handoff.id}",
    )
    assert "could not be delivered" in page.text and "Retry" in page.text
    with world.services.database.read() as db:
        failed = db.exec(select(Message).where(Message.kind == "agent")).one()
    assert failed.delivery_status == "failed" and failed.send_attempts == 1
    retried = session.post(
        f"/console/handoffs/{handoff.id}/messages/{failed.id}/retry",
        csrf_from=f"/console/handoffs/{handoff.id}",
    )
    assert "Sent again." in retried.text
    assert [m["Body"] for m in world.twilio.received] == ["Hello from Amina"]


def test_after_24_hours_only_templates_go_out(world, clock) -> None:
    from imaradesk.console.setup import DeskSetup

    DeskSetup(world.services.database).add_template(
        world.org.id,
        name="Follow-up",
        content_sid="HX" + "a" * 32,
        body="Hello, we have an update on your request.",
    )
    world.customer_says("agent please")
    [handoff] = handoffs(world)
    clock.advance(timedelta(hours=25))
    session = world.login("amina@acme.example")
    page = session.get(f"/console/handoffs/{handoff.id}").text
    assert "approved template" in page and "Follow-up" in page and 'id="reply-text"' not in page
    refused = session.post(
        f"/console/handoffs/{handoff.id}/reply",
        {"text": "late reply"},
        csrf_from=f"/console/handoffs/{handoff.id}",
    )
    assert "Not sent" in refused.text and world.twilio.received == []
    template_id = page.split('name="template_id" value="')[1].split('"')[0]
    sent = session.post(
        f"/console/handoffs/{handoff.id}/template",
        {"template_id": template_id},
        csrf_from=f"/console/handoffs/{handoff.id}",
    )
    assert "Template sent." in sent.text
    assert (
        world.twilio.received[0]["ContentSid"] == "HX" + "a" * 32
        and "Body" not in world.twilio.received[0]
    )


def test_resolving_hands_back_to_the_bot_which_asks_for_a_rating(world) -> None:
    world.customer_says("agent please")
    assert world.customer_says("hello? anyone?") == [], "the bot stays out while a person owns it"
    [handoff] = handoffs(world)
    session = world.login("amina@acme.example")
    session.post(
        f"/console/handoffs/{handoff.id}/resolve", csrf_from=f"/console/handoffs/{handoff.id}"
    )
    assert "rate" in world.twilio.received[-1]["Body"]
    assert world.customer_says("5") == [
        "Thank you for your rating! Is there anything else I can help with?"
    ]
    assert handoffs(world)[0].rating == 5 and handoffs(world)[0].status == "resolved"
    assert world.customer_says("How do I check my balance?") == [
        "Dial *483*1# to see your balance."
    ]


def test_an_agent_of_one_organization_sees_nothing_of_another(world) -> None:
    from tests.helpers import seed_org

    other = seed_org(world.services, "other", twilio_auth_token="test-auth-token")
    world.services.accounts.create(
        other.id,
        email="eve@other.example",
        name="Eve",
        role="admin",
        password=PASSWORD,
        verified=True,
    )
    world.customer_says("agent please")
    [handoff] = handoffs(world)
    eve = world.login("eve@other.example")
    assert "agent please" not in eve.get("/console/inbox/rows").text
    for path in (f"/console/handoffs/{handoff.id}", f"/console/handoffs/{handoff.id}/messages"):
        assert eve.get(path).status_code == 404
    for action in ("take", "resolve"):
        assert (
            eve.post(f"/console/handoffs/{handoff.id}/{action}", csrf_from="/console/").status_code
            == 404
        )
    assert (
        eve.post(
            f"/console/handoffs/{handoff.id}/reply", {"text": "hi"}, csrf_from="/console/"
        ).status_code
        == 404
    )
    assert world.twilio.received == [] and handoffs(world)[0].status == "open"


def test_roles_limit_what_each_account_may_do(world) -> None:
    kim = world.login("kim@acme.example")
    assert kim.get("/console/inbox/rows").status_code == 403
    assert kim.get("/console/team").status_code == 403
    upload = kim.http.post(
        f"{world.url}/console/knowledge",
        data={"csrf_token": kim.csrf("/console/knowledge")},
        files={
            "file": (
                "extra.csv",
                b"question,answer\nDo you have an app?,Yes: Imara Pesa on Android.\n",
            )
        },
        timeout=30,
    )
    assert "extra.csv is being read" in upload.text
    big = "question,answer\n" + "".join(
        f"Question number {i}?,Answer number {i}.\n" for i in range(3000)
    )
    assert len(big) > 64 * 1024, "larger than any webhook may be"
    kim.http.post(
        f"{world.url}/console/knowledge",
        data={"csrf_token": kim.csrf("/console/knowledge")},
        files={"file": ("big.csv", big.encode())},
        timeout=120,
    )
    world.services.jobs.wait(timeout=120)
    documents = kim.get("/console/knowledge/documents").text
    assert "1 new" in documents and "3000 new" in documents
    assert world.customer_says("Do you have an app?")[-1] == "Yes: Imara Pesa on Android."
    kim.http.post(
        f"{world.url}/console/knowledge",
        data={"csrf_token": kim.csrf("/console/knowledge")},
        files={"file": ("bad.csv", b"question,answer\n,missing\n")},
        timeout=30,
    )
    world.services.jobs.wait(timeout=60)
    documents = kim.get("/console/knowledge/documents").text
    assert "failed: bad.csv, line 2" in documents
    amina = world.login("amina@acme.example")
    assert amina.get("/console/team").status_code == 403


def test_sign_up_verify_sign_in_and_reset_follow_the_real_emails(world) -> None:
    from tests.web.console_helpers import ConsoleSession

    visitor = ConsoleSession(world.url)
    response = visitor.post("/console/signup", {
        "name": "Njeri Mwangi", "email": "njeri@savanna.example", "company": "Savanna Foods",
        "team_size": "6-20", "password": "a strong passphrase",
    }, csrf_from="/console/signup")  # fmt: skip
    assert "Check your email" in response.text
    assert visitor.login("njeri@savanna.example", "a strong passphrase").status_code == 401, (
        "not before verifying"
    )
    verify = world.smtp.wait_for("njeri@savanna.example")
    assert visitor.get(urlparse(world.smtp.link(verify)).path).status_code == 200
    assert "Sign out" in visitor.login("njeri@savanna.example", "a strong passphrase").text
    org = world.services.organizations.by_slug("savanna-foods")
    assert (
        org is not None and org.team_size == "6-20" and org.contact_email == "njeri@savanna.example"
    )

    other = ConsoleSession(world.url)
    other.post("/console/reset", {"email": "njeri@savanna.example"}, csrf_from="/console/reset")
    reset = world.smtp.wait_for("njeri@savanna.example", count=2)
    path = urlparse(world.smtp.link(reset)).path
    form = other.post(
        path, {"password": "another good phrase", "confirm": "another good phrase"}, csrf_from=path
    )
    assert "Your password is set" in form.text
    assert other.get(path).status_code == 400, "a reset link works once"
    assert (
        "Sign out"
        in ConsoleSession(world.url).login("njeri@savanna.example", "another good phrase").text
    )


def test_an_admin_invites_an_agent_who_chooses_a_password(world) -> None:
    from tests.web.console_helpers import ConsoleSession

    admin = world.login("chebet@acme.example")
    page = admin.post(
        "/console/team",
        {
            "name": "Otieno",
            "email": "otieno@acme.example",
            "role": "agent",
            "team": "Payments",
            "languages": "en,sw",
        },
        csrf_from="/console/team",
    )
    assert "Invitation sent" in page.text and "invited" in page.text
    invite = world.smtp.wait_for("otieno@acme.example")
    path = urlparse(world.smtp.link(invite)).path
    newcomer = ConsoleSession(world.url)
    newcomer.post(
        path, {"password": "otieno's passphrase", "confirm": "otieno's passphrase"}, csrf_from=path
    )
    assert "Sign out" in newcomer.login("otieno@acme.example", "otieno's passphrase").text


def test_a_web_chat_visitor_gets_the_agents_reply_on_the_next_poll(world) -> None:
    from tests.helpers import WebVisitor

    visitor = WebVisitor(world.url, "acme")
    visitor.replies("I want to talk to a human")
    [handoff] = handoffs(world)
    # Replies given in the POST's own answer are not repeated by the poll.
    assert visitor.poll() == []
    session = world.login("amina@acme.example")
    session.post(
        f"/console/handoffs/{handoff.id}/reply",
        {"text": "Hi, Amina here."},
        csrf_from=f"/console/handoffs/{handoff.id}",
    )
    polled = visitor.poll()
    assert polled[-1] == {
        "id": polled[-1]["id"],
        "text": "Hi, Amina here.",
        "kind": "agent",
        "from": "agent",
    }
    assert visitor.poll(after=polled[-1]["id"]) == []
    assert WebVisitor(world.url, "acme").poll() == [], "another visitor never gets it"
    assert visitor.history()[-1]["text"] == "Hi, Amina here.", "a reload shows it again"
    assert world.twilio.received == []


def test_only_the_owner_or_an_admin_replies_and_a_takeover_is_recorded(world) -> None:
    """Two people answering one customer contradict each other: an agent who does not own the
    conversation is refused (nothing reaches the customer) until they take it over, and the
    takeover is in the audit trail; an admin may always step in."""
    from imaradesk.storage.compliance_repository import ComplianceData

    world.customer_says("My money is missing, it was not received")
    world.customer_says("agent please")
    [handoff] = handoffs(world)
    amina = world.services.accounts.get(handoff.assigned_agent_id)
    assert amina.email == "amina@acme.example"
    brian = world.login("brian@acme.example")
    path = f"/console/handoffs/{handoff.id}"
    refused = brian.post(f"{path}/reply", {"text": "Brian here"}, csrf_from=path)
    assert "Amina is handling this conversation" in refused.text
    assert world.twilio.received == [], "nothing reached the customer"

    taken = brian.post(f"{path}/take", csrf_from=path)
    assert "You own this conversation." in taken.text
    sent = brian.post(f"{path}/reply", {"text": "Brian here, checking now"}, csrf_from=path)
    assert "Sent." in sent.text and world.twilio.received[-1]["Body"] == "Brian here, checking now"
    with world.services.database.read() as session:
        [event] = [
            e
            for e in ComplianceData(session, world.org.id).audit_trail()
            if e.action == "handoff_reassigned"
        ]
    assert event.actor == f"agent:{handoffs(world)[0].assigned_agent_id}"
    assert event.note == f"from agent {amina.id} to agent {handoffs(world)[0].assigned_agent_id}"

    admin = world.login("chebet@acme.example")
    stepped_in = admin.post(f"{path}/reply", {"text": "Chebet, team lead"}, csrf_from=path)
    assert "Sent." in stepped_in.text, "an admin may reply in anyone's conversation"
    assert handoffs(world)[0].assigned_agent_id != amina.id

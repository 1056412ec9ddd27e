"""Every data-protection right, exercised the way a customer would: in the WhatsApp chat,
through signed Twilio webhooks on a real loopback server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlparse
from xml.etree import ElementTree

import pytest
import requests
from sqlmodel import select

from imaradesk.storage.compliance_repository import ComplianceData
from imaradesk.storage.db import Database
from imaradesk.storage.models import (
    Contact,
    ErasureTombstone,
    Handoff,
    Message,
    PrivacyRequest,
    PrivacyRequestStatus,
)
from tests.helpers import CountingEmbedder, post_signed, seed_org, twilio_form

PHONE = "+254722555111"


class Customer:
    """A WhatsApp customer of ``acme`` talking to the live server."""

    def __init__(self, server, phone: str = PHONE) -> None:
        self.server = server
        self.phone = phone
        self.sent: list[dict[str, str]] = []

    def say(self, text: str, **extra: str) -> list[str]:
        form = twilio_form(body=text, sender=f"whatsapp:{self.phone}", **extra)
        self.sent.append(form)
        return self.post(form)

    def post(self, form: dict[str, str]) -> list[str]:
        response = post_signed(f"{self.server.url}/channels/twilio/acme/messages", form)
        assert response.status_code == 200, response.text
        return [m.text or "" for m in ElementTree.fromstring(response.text).findall("Message")]


@pytest.fixture
def acme(make_services, live_server_factory, database: Database):
    services = make_services(database, embedder=CountingEmbedder())
    seed_org(services, "acme")
    server = live_server_factory(services)
    return server


def requests_of(server) -> list[PrivacyRequest]:
    org = server.services.organizations.by_slug("acme")
    with server.services.database.read() as session:
        return list(ComplianceData(session, org.id).privacy_requests())


def contact_row(server, phone: str = PHONE) -> Contact | None:
    org = server.services.organizations.by_slug("acme")
    with server.services.database.read() as session:
        return ComplianceData(session, org.id).find_contact("whatsapp", phone)


def fetch_export(server, reply: str, **params: str) -> requests.Response:
    link = next(word for word in reply.split() if "/privacy/exports/" in word)
    return requests.get(f"{server.url}{urlparse(link).path}", params=params, timeout=10)


def test_access_gives_a_signed_link_to_everything_held(acme) -> None:
    customer = Customer(acme)
    customer.say("How do I check my balance?", ProfileName="Wanjiru Kamau")
    [reply] = customer.say("send me my data")
    assert "/privacy/exports/" in reply and "In short: 3 messages since" in reply
    response = fetch_export(acme, reply)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    export = response.json()
    assert export["contact"]["address"] == PHONE and export["contact"]["name"] == "Wanjiru Kamau"
    assert [c["action"] for c in export["consent_history"]] == ["granted"]
    assert "How do I check my balance?" in [m["text"] for m in export["messages"]]
    page = fetch_export(acme, reply, format="html")
    assert page.headers["Content-Type"].startswith("text/html") and "Wanjiru Kamau" in page.text
    assert '<html lang="en">' in page.text and "Everything Acme holds about you" in page.text
    [request] = requests_of(acme)
    assert (request.right, request.status) == ("access", "completed")
    assert request.completed_at is not None and request.due_at == request.received_at + timedelta(
        days=30
    )
    # A guessed or altered link shows nothing, and says so in the visitor's language.
    forged = requests.get(f"{acme.url}/privacy/exports/abc.def.ghi", timeout=10)
    assert forged.status_code == 404 and "This link is not valid." in forged.text
    in_swahili = requests.get(
        f"{acme.url}/privacy/exports/abc.def.ghi", headers={"Accept-Language": "sw"}, timeout=10
    )
    assert in_swahili.status_code == 404 and "Kiungo hiki si sahihi." in in_swahili.text


def test_a_customer_who_chose_swahili_gets_the_export_in_swahili(acme) -> None:
    customer = Customer(acme)
    customer.say("ongea Kiswahili")
    [reply] = customer.say("nitumie data yangu")
    assert reply.startswith("Hiki hapa kila kitu tunachohifadhi kukuhusu")
    assert "Kwa ufupi: jumbe 3 tangu" in reply
    page = fetch_export(acme, reply, format="html").text
    assert '<html lang="sw">' in page
    assert "Kila kitu ambacho Acme inahifadhi kukuhusu" in page and "Maelezo yako" in page
    assert "jumbe 3 tangu" in page, "the summary is in Swahili too"


def test_an_export_link_expires(acme, tmp_path) -> None:
    from imaradesk.compliance.subject_export import ExportLinkExpired, SubjectExports
    from imaradesk.runtime.clock import FrozenClock

    clock = FrozenClock(datetime(2026, 11, 2, 9, 30, tzinfo=UTC))
    exports = SubjectExports(
        directory=tmp_path,
        keystore=acme.services.database.keystore,
        secret="s",
        ttl_seconds=60,
        clock=clock,
    )
    org = acme.services.organizations.by_slug("acme")
    token = exports.write(org.id, 1, {"x": 1})
    clock.advance(timedelta(seconds=60))
    assert exports.read(token)[1] == {"x": 1}
    assert exports.sweep(clock.now()) == 0
    clock.advance(timedelta(seconds=1))
    with pytest.raises(ExportLinkExpired):
        exports.read(token)
    assert exports.sweep(clock.now()) == 1


@pytest.mark.parametrize(
    ("message", "field", "value", "confirmation"),
    [
        ("my name is wrong, it's Wanjiru", "display_name", "Wanjiru", "Thanks, I've updated"),
        (
            "please change my email to wanjiru@example.co.ke",
            "email",
            "wanjiru@example.co.ke",
            "Thanks, I've updated your email to wanjiru@example.co.ke.",
        ),
        # Confirmed in the language chosen, which is from now on the customer's.
        ("I prefer Swahili", "preferred_language", "sw", "lugha unayopendelea kuwa Kiswahili"),
        (
            "jina langu si sahihi ni Achieng Otieno",
            "display_name",
            "Achieng Otieno",
            "Asante, nimesasisha jina lako kuwa Achieng Otieno.",
        ),
    ],
)
def test_rectification_from_the_chat(
    acme, message: str, field: str, value: str, confirmation: str
) -> None:
    customer = Customer(acme)
    customer.say("hello", ProfileName="Wanjru")
    [reply] = customer.say(message)
    assert confirmation in reply
    assert getattr(contact_row(acme), field) == value
    [request] = requests_of(acme)
    assert (request.right, request.status) == ("rectification", "completed")


def test_a_correction_we_cannot_apply_goes_to_a_person(acme) -> None:
    customer = Customer(acme)
    customer.say("hello")
    [reply] = customer.say("my surname is incorrect in your records")
    assert "passed your correction to our team" in reply
    [request] = requests_of(acme)
    assert (request.right, request.status) == ("rectification", "open")
    with acme.services.database.read() as session:
        assert [h.reason for h in session.exec(select(Handoff)).all()] == ["privacy_request"]


def test_restriction_stops_ai_processing_until_lifted(acme) -> None:
    embedder = acme.services.embedder
    customer = Customer(acme)
    customer.say("hello")
    [reply] = customer.say("stop using my messages for your AI")
    assert "stop processing it with AI" in reply
    assert contact_row(acme).restricted
    embedded = len(embedder.embedded)
    [handoff] = customer.say("How do I check my balance?")
    assert "member of our team will answer you" in handoff
    assert len(embedder.embedded) == embedded, "no model saw the restricted contact's question"
    # While a person owns the conversation, a privacy request is still heard.
    [lifted] = customer.say("you can use my data again")
    assert "may answer your messages again" in lifted and not contact_row(acme).restricted
    assert [(r.right, r.status) for r in requests_of(acme)] == [
        ("restriction", "completed"),
        ("lift_restriction", "completed"),
    ]


def test_erasure_asks_for_yes_then_removes_everything_and_a_replay_does_not_resurrect(acme) -> None:
    customer = Customer(acme)
    customer.say("How do I check my balance?", ProfileName="Wanjiru")
    first_form = customer.sent[0]
    [confirm] = customer.say("delete everything you have about me")
    assert "Reply YES" in confirm
    assert contact_row(acme) is not None, "nothing is erased before the customer confirms"
    [done] = customer.say("YES")
    assert "erased all the data" in done

    services = acme.services
    with services.database.read() as session:
        assert session.exec(select(Contact)).all() == []
        assert session.exec(select(Message)).all() == []
        [tombstone] = session.exec(select(ErasureTombstone)).all()
        [request] = session.exec(select(PrivacyRequest)).all()
    assert len(tombstone.message_id_hashes) == 3
    assert (request.right, request.status, request.contact_id) == ("erasure", "completed", None)
    assert "erased 7 messages" in request.outcome  # 3 turns: 3 in, 4 out (notice included)

    # Twilio retries an old delivery: it is not a new customer.
    assert customer.post(first_form) == []
    assert contact_row(acme) is None
    # Writing again is welcome: a new contact, shown the notice again.
    replies = customer.say("hello again")
    assert "STOP" in replies[0] and contact_row(acme) is not None


def test_erasure_is_not_done_without_yes(acme) -> None:
    customer = Customer(acme)
    customer.say("hello")
    customer.say("futa data yangu")
    # Asked in Swahili, answered in Swahili: the bare NO keeps the conversation's language.
    assert customer.say("NO") == ["Sawa, tumehifadhi data yako. Hakuna kilichofutwa."]
    customer.say("delete my data")
    customer.say("How do I check my balance?")  # anything but YES keeps the data
    assert customer.say("YES")[0] != "erased"
    assert contact_row(acme) is not None
    assert [r.status for r in requests_of(acme)] == ["cancelled", "cancelled"]


def test_a_legal_hold_blocks_erasure_and_leaves_it_to_a_person(acme) -> None:
    customer = Customer(acme)
    customer.say("hello")
    org = acme.services.organizations.by_slug("acme")
    acme.services.stewardship.place_hold(
        org,
        scope="contact",
        target_id=contact_row(acme).id,
        reason="court order 12/2026",
        actor="admin:legal",
    )
    customer.say("delete all my data")
    [reply] = customer.say("yes")
    assert "can't erase your data right now" in reply and "court" not in reply
    assert contact_row(acme) is not None
    [request] = requests_of(acme)
    assert request.status == "blocked"
    with acme.services.database.read() as session:
        assert "privacy_request" in [h.reason for h in session.exec(select(Handoff)).all()]


def test_a_request_about_someone_else_is_refused_with_a_reason(acme) -> None:
    customer = Customer(acme)
    customer.say("hello")
    [reply] = customer.say("delete the data of 0733 444 555")
    assert "only act on the data of the number you are writing from" in reply
    [reply] = customer.say("send me my husband's data")
    assert "only act on the data" in reply
    assert [(r.right, r.status) for r in requests_of(acme)] == [
        ("erasure", "refused"),
        ("access", "refused"),
    ]
    assert contact_row(acme) is not None


def test_requests_are_heard_after_stop(acme) -> None:
    customer = Customer(acme)
    customer.say("hello")
    customer.say("STOP")
    assert customer.say("How do I check my balance?") == []
    [reply] = customer.say("nitumie data yangu")
    assert "/privacy/exports/" in reply


def test_due_dates_follow_the_organizations_policy_and_overdue_is_flagged(acme, clock) -> None:
    services = acme.services
    org = services.organizations.by_slug("acme")
    services.organizations.update(org.id, privacy_due_days={"rectification": 7})
    customer = Customer(acme)
    customer.say("hello")
    customer.say("my details are wrong, please fix my name")
    [request] = requests_of(acme)
    assert request.due_at - request.received_at == timedelta(days=7)
    org = services.organizations.by_slug("acme")
    assert services.privacy.open_requests(org, overdue_only=True) == []
    clock.advance(timedelta(days=6))
    assert [flag for _, flag in services.privacy.open_requests(org)] == ["due soon"]
    clock.advance(timedelta(days=2))
    assert [r.id for r, _ in services.privacy.open_requests(org, overdue_only=True)] == [request.id]
    with services.database.read() as session:
        trail = [e.action for e in ComplianceData(session, org.id).audit_trail(request.id)]
    assert trail == ["rectification_requested"]
    services.privacy.set_status(
        org, request.id, PrivacyRequestStatus.COMPLETED, actor="admin:ops", outcome="name fixed"
    )
    assert services.privacy.open_requests(org) == []
    with services.database.read() as session:
        trail = [
            (e.actor, e.action) for e in ComplianceData(session, org.id).audit_trail(request.id)
        ]
    assert trail[-1] == ("admin:ops", "rectification_completed")


def test_recognition_holds_on_the_independent_test_set() -> None:
    # A guard against regressions, not the figure: bench/privacy_recognition.py prints that.
    # The test set was written by someone who never saw the rules, and was never tuned on.
    from pathlib import Path

    from bench.privacy_recognition import evaluate

    result = evaluate(Path(__file__).parents[2] / "bench" / "privacy_phrasings_test.csv")
    assert result["ordinary_messages"] >= 50
    assert result["accuracy"] >= 0.85
    assert result["false_triggers"] <= 1
    assert evaluate()["accuracy"] == 1.0, "every phrasing the rules were written for still works"


def test_restoring_an_older_backup_does_not_bring_an_erased_customer_back(
    acme, tmp_path, clock
) -> None:
    from imaradesk.storage.backup import BackupService

    services = acme.services
    backups = BackupService(services.database, directory=tmp_path / "backups", clock=services.clock)
    customer = Customer(acme)
    customer.say("How do I check my balance?")
    stays = Customer(acme, phone="+254722000999")
    stays.say("How do I check my balance?")
    older = backups.create()
    clock.advance(timedelta(hours=1))
    customer.say("delete my data")
    customer.say("yes")
    assert contact_row(acme) is None

    report = backups.restore(older.path)
    assert report.erasures_reapplied == 1
    assert contact_row(acme) is None, "the erasure is applied again to the restored copy"
    assert contact_row(acme, "+254722000999") is not None, "everyone else is restored"
    with services.database.read() as session:
        assert len(session.exec(select(ErasureTombstone)).all()) == 1

    # A customer who came back after their erasure is not erased by a later restore.
    clock.advance(timedelta(hours=1))
    customer.say("hello, I'm back")
    newer = backups.create()
    assert backups.restore(newer.path).erasures_reapplied == 0
    assert contact_row(acme) is not None


def test_delete_my_account_gets_the_faq_answer_with_an_offer_to_erase(
    make_services, sqlite_database
) -> None:
    from tests.helpers import Chat

    services = make_services(sqlite_database)
    seed_org(
        services,
        "acme",
        faq_csv="question,answer\nHow do I delete my account?,Dial *483*0# to close your account.\n",
    )
    chat = Chat(services, "acme")
    chat.send("hello")
    answer, offer = chat.send("How do I delete my account?")
    assert answer.text == "Dial *483*0# to close your account." and answer.sources
    assert "delete my data" in offer.text
    assert requests_of_db(services) == [], (
        "nothing is requested until the customer asks for erasure"
    )
    [confirm] = chat.send("delete my data")
    assert "Reply YES" in confirm.text


def requests_of_db(services) -> list:
    with services.database.read() as session:
        return list(session.exec(select(PrivacyRequest)).all())


def test_a_failed_erasure_never_leaves_a_reply_saying_it_was_done(acme) -> None:
    customer = Customer(acme)
    customer.say("hello")
    customer.say("delete my data")
    desk = acme.services.privacy
    original = desk.erase

    def broken(*args, **kwargs):
        raise OSError("disk full")

    desk.erase = broken  # the database refuses at the worst moment
    try:
        form = twilio_form(body="YES", sender=f"whatsapp:{PHONE}")
        first = customer.post(form)
        again = customer.post(form)  # Twilio retries
    finally:
        desk.erase = original
    assert "could not finish erasing" in first[-1] and again == first
    assert contact_row(acme) is not None
    assert [r.status for r in requests_of(acme) if r.right == "erasure"] == ["blocked"]

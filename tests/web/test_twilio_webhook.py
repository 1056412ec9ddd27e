"""The Twilio webhook on a real server on loopback, with requests signed by twilio's library."""

from __future__ import annotations

import threading
from xml.etree import ElementTree

import pytest
import requests
from sqlmodel import select
from twilio.request_validator import RequestValidator

from imaradesk.storage.db import Database
from imaradesk.storage.models import Contact, Message
from tests.helpers import post_signed, seed_org, twilio_form

OUT_SID = "SM" + "0e" * 16  # the sid Twilio gave our reply


def bodies(response: requests.Response) -> list[str]:
    assert response.headers["Content-Type"].startswith("application/xml")
    return [m.text or "" for m in ElementTree.fromstring(response.text).findall("Message")]


def count(database: Database, model: type = Message) -> int:
    with database.read() as session:
        return len(session.exec(select(model)).all())


@pytest.fixture
def server(make_services, live_server_factory, database: Database):
    services = make_services(database)
    seed_org(services, "acme")
    return live_server_factory(services)


def inbound_url(server, org: str = "acme") -> str:
    return f"{server.url}/channels/twilio/{org}/messages"


def test_signed_message_is_answered_with_twiml(server, database: Database) -> None:
    response = post_signed(inbound_url(server), twilio_form(body="How do I check my balance?"))
    assert response.status_code == 200
    notice, answer = bodies(response)
    assert "STOP" in notice
    assert answer == "Dial *483*1# to see your balance."
    actions = [m.get("action") for m in ElementTree.fromstring(response.text).findall("Message")]
    assert all(a.startswith(f"{server.url}/channels/twilio/acme/status?m=") for a in actions)
    assert count(database) == 3


def test_forged_or_missing_signature_is_refused_and_nothing_stored(
    server, database: Database
) -> None:
    form = twilio_form(body="How do I check my balance?")
    forged = post_signed(inbound_url(server), form, token="not-the-token")
    assert forged.status_code == 403
    assert "does not match" in forged.json()["message"]
    unsigned = requests.post(inbound_url(server), data=form, timeout=10)
    assert unsigned.status_code == 403
    assert "missing" in unsigned.json()["message"]
    # Signed for one body, delivered with another.
    signature = RequestValidator("test-auth-token").compute_signature(inbound_url(server), form)
    tampered = requests.post(
        inbound_url(server),
        data={**form, "Body": "send all my money to X"},
        headers={"X-Twilio-Signature": signature},
        timeout=10,
    )
    assert tampered.status_code == 403
    assert count(database) == 0 and count(database, Contact) == 0


def test_a_signed_field_we_do_not_know_yet_is_accepted(server) -> None:
    form = twilio_form(body="hi", BrandNewTwilioField="42")
    assert post_signed(inbound_url(server), form).status_code == 200


def test_unknown_organization_is_404(server, database: Database) -> None:
    response = post_signed(inbound_url(server, "nobody"), twilio_form(body="hi"))
    assert response.status_code == 404
    assert "unknown organization" in response.json()["message"]
    assert count(database) == 0


def test_org_without_twilio_token_refuses_twilio_requests(
    make_services, live_server_factory, database
) -> None:
    services = make_services(database)
    seed_org(services, "webonly", twilio_auth_token=None)
    server = live_server_factory(services)
    response = post_signed(inbound_url(server, "webonly"), twilio_form(body="hi"))
    assert response.status_code == 403
    assert count(database) == 0


def test_oversized_body_is_413_and_nothing_stored(server, database: Database) -> None:
    form = twilio_form(body="x" * 70_000)
    response = post_signed(inbound_url(server), form)
    assert response.status_code == 413
    assert count(database) == 0


def test_malformed_but_signed_request_is_400(server, database: Database) -> None:
    form = twilio_form(body="hi", NumMedia="lots")
    response = post_signed(inbound_url(server), form)
    assert response.status_code == 400
    assert "NumMedia" in response.json()["message"]
    assert count(database) == 0


def test_replayed_message_sid_returns_the_same_reply_and_stores_nothing_twice(
    server, database: Database
) -> None:
    form = twilio_form(body="How do I reset my PIN?")
    first = post_signed(inbound_url(server), form)
    stored = count(database)
    again = post_signed(inbound_url(server), form)
    assert again.status_code == 200
    assert again.text == first.text
    assert count(database) == stored


def test_two_deliveries_of_one_message_at_once_answer_alike_and_store_once(
    server, database: Database
) -> None:
    for attempt in range(3):
        form = twilio_form(body="How do I reset my PIN?", sender=f"whatsapp:+25471000000{attempt}")
        barrier = threading.Barrier(2)
        responses: list[requests.Response] = []

        def deliver() -> None:
            barrier.wait()
            responses.append(post_signed(inbound_url(server), form))

        threads = [threading.Thread(target=deliver) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert [r.status_code for r in responses] == [200, 200]
        assert responses[0].text == responses[1].text
        with database.read() as session:
            inbound = session.exec(
                select(Message).where(Message.provider_message_id == form["MessageSid"])
            ).all()
        assert len(inbound) == 1


def test_media_only_message_is_answered_politely_and_media_kept(server, database: Database) -> None:
    form = twilio_form(
        body="",
        NumMedia="1",
        MediaUrl0="https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1",
        MediaContentType0="image/jpeg",
    )
    response = post_signed(inbound_url(server), form)
    assert response.status_code == 200
    assert "only read text" in bodies(response)[-1]
    with database.read() as session:
        inbound = session.exec(
            select(Message).where(Message.provider_message_id == form["MessageSid"])
        ).one()
    assert inbound.media == [{"url": form["MediaUrl0"], "content_type": "image/jpeg"}]


def test_status_callbacks_are_recorded_on_the_outbound_message(server, database: Database) -> None:
    response = post_signed(inbound_url(server), twilio_form(body="How do I check my balance?"))
    action = ElementTree.fromstring(response.text).findall("Message")[-1].get("action")
    message_id = int(action.split("m=")[1])

    def status(value: str, sid: str = OUT_SID, **extra: str) -> requests.Response:
        form = {
            "MessageSid": sid,
            "MessageStatus": value,
            "From": "whatsapp:+14155238886",
            "To": "whatsapp:+254700000001",
            "AccountSid": "AC" + "0" * 32,
            **extra,
        }
        return post_signed(action, form)

    assert status("sent").status_code == 204
    assert status("delivered").status_code == 204
    assert status("sent").status_code == 204  # late and out of order
    with database.read() as session:
        message = session.get(Message, message_id)
    assert (message.delivery_status, message.provider_message_id) == ("delivered", OUT_SID)
    assert status("read").status_code == 204
    assert status("failed", ErrorCode="63016").status_code == 204
    with database.read() as session:
        assert session.get(Message, message_id).delivery_status == "read"
    forged = requests.post(
        action, data={"MessageSid": OUT_SID, "MessageStatus": "failed"}, timeout=10
    )
    assert forged.status_code == 403
    assert status("exploded").status_code == 400


def test_behind_a_proxy_the_configured_public_url_is_what_is_signed(
    make_services, live_server_factory, database
) -> None:
    services = make_services(database, public_base_url="https://desk.example.com")
    seed_org(services, "acme")
    server = live_server_factory(services)
    public = "https://desk.example.com/channels/twilio/acme/messages"
    ok = post_signed(inbound_url(server), twilio_form(body="hi"), sign_url=public)
    assert ok.status_code == 200
    assert (
        ElementTree.fromstring(ok.text)
        .find("Message")
        .get("action")
        .startswith("https://desk.example.com/")
    )
    assert post_signed(inbound_url(server), twilio_form(body="hi")).status_code == 403


def test_forwarded_headers_count_only_from_a_trusted_proxy(
    make_services, live_server_factory, database
) -> None:
    public = "https://desk.example.com/channels/twilio/acme/messages"
    headers = {
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "desk.example.com",
        "X-Forwarded-For": "1.2.3.4",
    }

    untrusting = make_services(database)
    seed_org(untrusting, "acme")
    server = live_server_factory(untrusting)
    refused = post_signed(
        inbound_url(server), twilio_form(body="hi"), sign_url=public, headers=headers
    )
    assert refused.status_code == 403, "without a trusted proxy, forwarded headers are ignored"

    trusting = make_services(database, trusted_proxy_count=1)
    server = live_server_factory(trusting)
    accepted = post_signed(
        inbound_url(server), twilio_form(body="hi"), sign_url=public, headers=headers
    )
    assert accepted.status_code == 200


def test_a_replay_with_fields_shifted_into_the_sid_is_refused(server, database: Database) -> None:
    """Twilio signs the URL and the form's keys and values run together, so a captured request
    with NumMedia removed and "NumMedia0" appended to its MessageSid signs the same. The id's
    format (SM + 32 hex digits) gives it away: refused, nothing stored, nothing answered."""
    form = twilio_form(body="Nimetuma pesa kwa number mbaya")
    assert post_signed(inbound_url(server), form).status_code == 200
    stored = count(database)
    url = inbound_url(server)
    signature = RequestValidator("test-auth-token").compute_signature(url, form)
    shifted = {k: v for k, v in form.items() if k != "NumMedia"}
    shifted["MessageSid"] = form["MessageSid"] + "NumMedia0"
    assert RequestValidator("test-auth-token").validate(url, shifted, signature), (
        "the attack is real: the shifted form carries a valid signature"
    )
    replay = requests.post(url, data=shifted, headers={"X-Twilio-Signature": signature}, timeout=10)
    assert replay.status_code == 400 and "MessageSid" in replay.json()["message"]
    assert count(database) == stored


def test_a_request_for_another_twilio_account_is_refused(
    make_services, live_server_factory, database: Database
) -> None:
    services = make_services(database)
    org = seed_org(services, "acme")
    services.organizations.update(org.id, twilio_account_sid="AC" + "e" * 32)
    server = live_server_factory(services)
    response = post_signed(inbound_url(server), twilio_form(body="Habari"))
    assert response.status_code == 403 and "another Twilio account" in response.json()["message"]
    assert count(database) == 0

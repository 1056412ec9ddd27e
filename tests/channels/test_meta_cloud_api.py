"""WhatsApp through Meta's Cloud API, on a real loopback server against a local server that
speaks the Graph API. The payloads are JSON files written from Meta's documented examples
(tests/fixtures/meta); every request is signed here from its raw body, as Meta signs it."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from pathlib import Path

import pytest
import requests
from sqlmodel import func, select

from imaradesk.channels.base import MalformedRequest, SendFailed, SignatureInvalid
from imaradesk.channels.meta import MetaCloudChannel, verify_signature
from imaradesk.compliance.subject_export import collect
from imaradesk.storage.compliance_repository import ComplianceData
from imaradesk.storage.models import Contact, Message
from imaradesk.storage.repositories import OrgData
from tests.fakes.graph_api import FakeGraphApi
from tests.helpers import seed_org

FIXTURES = Path(__file__).parent.parent / "fixtures" / "meta"
APP_SECRET = "meta-app-secret-of-acme"
ACCESS_TOKEN = "EAAG-access-token-of-acme"
VERIFY_TOKEN = "verify-token-of-acme"
PHONE_NUMBER_ID = "106540352242922"
BALANCE_ANSWER = "Dial *483*1# to see your balance."


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def signed(body: bytes, secret: str = APP_SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": f"sha256={digest}", "Content-Type": "application/json"}


@pytest.fixture
def graph():
    fake = FakeGraphApi(PHONE_NUMBER_ID, ACCESS_TOKEN).start()
    yield fake
    fake.stop()


def meta_server(make_services, live_server_factory, database, graph, **settings):
    """Acme on a loopback server, its WhatsApp number connected to the local Graph API."""
    services = make_services(database, meta_graph_base_url=graph.url, **settings)
    org = seed_org(services, "acme")
    services.organizations.update(
        org.id,
        meta_phone_number_id=PHONE_NUMBER_ID,
        meta_app_secret=APP_SECRET,
        meta_access_token=ACCESS_TOKEN,
        meta_verify_token=VERIFY_TOKEN,
    )
    return live_server_factory(services)


@pytest.fixture
def server(make_services, live_server_factory, sqlite_database, graph):
    return meta_server(make_services, live_server_factory, sqlite_database, graph)


def webhook(server, slug: str = "acme") -> str:
    return f"{server.url}/channels/meta/{slug}/webhook"


def deliver(server, payload: dict | bytes, *, secret: str = APP_SECRET) -> requests.Response:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    response = requests.post(webhook(server), data=body, headers=signed(body, secret), timeout=10)
    server.services.jobs.wait(timeout=30)
    return response


def stored_messages(server) -> int:
    org = server.services.organizations.by_slug("acme")
    with server.services.database.read() as session:
        return session.exec(
            select(func.count()).select_from(Message).where(Message.org_id == org.id)
        ).one()


# -- the handshake -------------------------------------------------------------------------


def test_the_subscription_handshake_echoes_the_challenge_for_the_right_token(server) -> None:
    params = {
        "hub.mode": "subscribe",
        "hub.verify_token": VERIFY_TOKEN,
        "hub.challenge": "1158201444",
    }
    response = requests.get(webhook(server), params=params, timeout=10)
    assert response.status_code == 200 and response.text == "1158201444"


@pytest.mark.parametrize(
    "params",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "guessed", "hub.challenge": "1"},
        {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"},
        {"hub.challenge": "1"},
    ],
)
def test_a_wrong_handshake_is_refused(server, params: dict) -> None:
    response = requests.get(webhook(server), params=params, timeout=10)
    assert response.status_code == 403 and "1" != response.text


def test_an_organization_without_the_channel_refuses_both_verbs(server) -> None:
    seed_org(server.services, "school")
    params = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"}
    assert requests.get(webhook(server, "school"), params=params, timeout=10).status_code == 403
    body = json.dumps(fixture("text.json")).encode()
    refused = requests.post(webhook(server, "school"), data=body, headers=signed(body), timeout=10)
    assert refused.status_code == 403
    assert requests.get(webhook(server, "nobody"), params=params, timeout=10).status_code == 404


# -- messages in, replies out --------------------------------------------------------------


def test_a_text_message_is_answered_through_the_graph_api(server, graph) -> None:
    response = deliver(server, fixture("text.json"))
    assert response.status_code == 200 and response.json() == {"messages": 1, "statuses": 0}
    assert graph.texts()[-1] == BALANCE_ANSWER
    assert "privacy" in graph.texts()[0].lower(), "the privacy notice comes first"
    # Before answering: blue ticks and the typing indicator on the customer's message.
    [receipt] = graph.read_receipts
    assert (
        receipt["message_id"]
        == fixture("text.json")["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
    )
    assert receipt["typing_indicator"] == {"type": "text"}
    # To the BSUID, the contact's address: it stays valid when the phone is later hidden.
    assert all(m["recipient"] == "KE.1502576394655843" for m in graph.received)
    org = server.services.organizations.by_slug("acme")
    with server.services.database.read() as session:
        contact = OrgData(session, org.id).find_contact("whatsapp_cloud", "KE.1502576394655843")
        assert contact is not None, "keyed by the business-scoped user id"
        assert contact.display_name == "Wanjiru Kamau"


def test_a_swahili_message_is_answered_in_swahili(server, graph) -> None:
    deliver(server, fixture("text_swahili.json"))
    assert graph.texts()[0].startswith("Habari, unazungumza na msaidizi wa Acme.")


def test_a_customer_known_only_by_bsuid_is_answered_by_bsuid(server, graph) -> None:
    """A username hides the phone: the reply goes to the BSUID as ``recipient``, and the
    username is a name, never an address."""
    deliver(server, fixture("username_only.json"))
    assert graph.texts()[-1] == BALANCE_ANSWER
    assert all(
        m["recipient"] == "KE.ENT.11815799212886844830" and "to" not in m for m in graph.received
    )
    org = server.services.organizations.by_slug("acme")
    with server.services.database.read() as session:
        contact = OrgData(session, org.id).find_contact(
            "whatsapp_cloud", "KE.ENT.11815799212886844830"
        )
        assert contact.display_name == "wanjiru.k"


def test_one_notification_with_several_entries_and_messages_answers_each(server, graph) -> None:
    response = deliver(server, fixture("two_entries.json"))
    assert response.json()["messages"] == 3
    answered = {(m["recipient"], m["text"]["body"]) for m in graph.received}
    assert ("KE.1502576394655843", BALANCE_ANSWER) in answered
    assert any(to == "KE.2602576394655843" and "Send Money" in text for to, text in answered)
    assert any(to == "KE.1502576394655843" and "*483*7#" in text for to, text in answered)


def test_redeliveries_of_one_message_store_and_answer_it_once(server, graph) -> None:
    """Meta retries for days, sometimes twice at once: the wamid makes it one message."""
    body = json.dumps(fixture("text.json")).encode()
    barrier = threading.Barrier(3)

    def post() -> int:
        barrier.wait()
        return requests.post(
            webhook(server), data=body, headers=signed(body), timeout=10
        ).status_code

    results: list[int] = []
    threads = [threading.Thread(target=lambda: results.append(post())) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    server.services.jobs.wait(timeout=30)
    deliver(server, body)
    assert results == [200, 200, 200]
    assert graph.texts().count(BALANCE_ANSWER) == 1
    assert stored_messages(server) == 1 + len(graph.received)


def test_a_voice_note_is_told_the_assistant_reads_text_and_how_to_reach_a_person(
    server, graph
) -> None:
    """Voice notes are common in Kenya: the customer learns the assistant reads text and how to
    reach a person, as words and as a button, and the button does reach one."""
    deliver(server, fixture("voice_note.json"))
    reply = graph.texts()[-1]
    assert "I can only read text messages" in reply and '"agent"' in reply
    assert graph.choices()[-1] == [("agent", "Talk to a person")]
    deliver(server, tap("agent", "Talk to a person"))
    org = server.services.organizations.by_slug("acme")
    with server.services.database.read() as session:
        assert len(OrgData(session, org.id).handoffs()) == 1


def tap(option_id: str, title: str, *, bsuid: str = "KE.1502576394655843") -> dict:
    """The customer tapping one of our reply buttons (Meta's ``button_reply``)."""
    payload = fixture("interactive_button_reply.json")
    message = payload["entry"][0]["changes"][0]["value"]["messages"][0]
    message["id"] = f"wamid.HBgMMjU0NzIyMDAwMTExFQIAEhgUTAP{next(_next_wamid):06d}"
    message["interactive"]["button_reply"] = {"id": option_id, "title": title}
    message["from_user_id"] = bsuid
    return payload


def test_erasure_is_confirmed_with_swahili_buttons_and_a_tap_erases(server, graph) -> None:
    """The product's own yes/no question goes out as two reply buttons in the customer's
    language; tapping "Ndiyo, futa" is the same as typing YES."""
    deliver(server, fixture("text_swahili.json"))
    deliver(server, customer_message("Tafadhali futa data yangu yote", bsuid=BSUID, phone=PHONE))
    assert graph.choices()[-1] == [("YES", "Ndiyo, futa"), ("NO", "Hapana, zihifadhi")]
    assert "NDIYO" in graph.texts()[-1] or "YES" in graph.texts()[-1], "the text says it too"
    deliver(server, tap("YES", "Ndiyo, futa"))
    assert contacts(server) == [], "erased"
    assert "tumefuta" in graph.texts()[-1].lower()


def test_the_rating_question_is_a_list_and_a_tapped_row_is_the_rating(server, graph) -> None:
    deliver(server, customer_message("agent please", bsuid=BSUID, phone=PHONE))
    services = server.services
    org = services.organizations.by_slug("acme")
    [waiting] = services.desk.inbox(org)
    services.desk.resolve(org, waiting.handoff.id)
    ratings = graph.choices()[-1]
    assert [i for i, _ in ratings] == ["1", "2", "3", "4", "5"]
    assert ratings[0][1].startswith("1.") and ratings[-1][1].startswith("5.")
    payload = fixture("interactive_list_reply.json")
    message = payload["entry"][0]["changes"][0]["value"]["messages"][0]
    message["interactive"]["list_reply"] = {"id": "4", "title": ratings[3][1]}
    message["from_user_id"], message["from"] = BSUID, PHONE
    deliver(server, payload)
    with services.database.read() as session:
        [handoff] = OrgData(session, org.id).handoffs()
    assert handoff.rating == 4


def test_reactions_and_number_changes_start_no_turn(server, graph) -> None:
    for name in ("reaction.json", "system_user_changed_number.json"):
        response = deliver(server, fixture(name))
        assert response.status_code == 200 and response.json()["messages"] == 0
    assert graph.received == [] and stored_messages(server) == 0


# -- bad input: refused, nothing stored ----------------------------------------------------


def test_a_forged_signature_is_refused_and_nothing_is_stored(server, graph) -> None:
    response = deliver(server, fixture("text.json"), secret="not-the-app-secret")
    assert response.status_code == 403
    assert "does not match" in response.json()["message"]
    body = json.dumps(fixture("text.json")).encode()
    unsigned = requests.post(webhook(server), data=body, timeout=10)
    assert unsigned.status_code == 403 and "missing" in unsigned.json()["message"]
    # The signature covers the bytes: a re-serialised body with one character changed fails.
    tampered = body.replace(b"balance", b"Balance")
    changed = requests.post(webhook(server), data=tampered, headers=signed(body), timeout=10)
    assert changed.status_code == 403
    server.services.jobs.wait(timeout=10)
    assert stored_messages(server) == 0 and graph.received == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"[" * 5000 + b"]" * 5000, "not valid JSON"),
        (json.dumps({"object": "page", "entry": []}).encode(), "not a WhatsApp Business Account"),
        (
            json.dumps(
                {
                    "object": "whatsapp_business_account",
                    "entry": [
                        {
                            "changes": [
                                {
                                    "field": "messages",
                                    "value": {
                                        "messages": [
                                            {
                                                "id": "SM123",
                                                "type": "text",
                                                "from": "254722000111",
                                                "text": {"body": "hi"},
                                            }
                                        ]
                                    },
                                }
                            ]
                        }
                    ],
                }
            ).encode(),
            "no WhatsApp message id",
        ),
        (
            json.dumps(
                {
                    "object": "whatsapp_business_account",
                    "entry": [
                        {
                            "changes": [
                                {
                                    "field": "messages",
                                    "value": {
                                        "messages": [
                                            {
                                                "id": "wamid.HBgMMjU0NzIyMDAwMTExFQIAEhgU",
                                                "type": "text",
                                                "from": "+25472; DROP",
                                                "text": {"body": "hi"},
                                            }
                                        ]
                                    },
                                }
                            ]
                        }
                    ],
                }
            ).encode(),
            "neither a business-scoped user id nor a phone number",
        ),
    ],
)
def test_malformed_notifications_get_a_clear_400_and_nothing_is_stored(
    server, graph, body: bytes, message: str
) -> None:
    response = deliver(server, body)
    assert response.status_code == 400, response.text
    assert message in response.json()["message"]
    assert stored_messages(server) == 0 and graph.received == []


def test_an_oversized_body_is_413(server) -> None:
    body = json.dumps({"object": "whatsapp_business_account", "pad": "x" * 100_000}).encode()
    response = requests.post(webhook(server), data=body, headers=signed(body), timeout=10)
    assert response.status_code == 413


# -- statuses ------------------------------------------------------------------------------


def test_statuses_move_our_message_forward_only_and_keep_meta_errors(server, graph) -> None:
    deliver(server, fixture("text.json"))
    wamid = next(iter(graph_ids(server)))

    def status(name: str) -> dict:
        return json.loads((FIXTURES / name).read_text().replace("{WAMID}", wamid))

    assert deliver(server, status("status_delivered.json")).json() == {"messages": 0, "statuses": 1}
    deliver(server, status("status_sent.json"))  # late: must not move it back
    assert delivery_status(server, wamid) == ("delivered", None)
    with server.services.database.read() as session:
        row = session.exec(select(Message).where(Message.provider_message_id == wamid)).one()
        assert row.pricing_category == "service", "what it costs, for the cost report"
    deliver(server, status("status_failed.json"))
    assert delivery_status(server, wamid) == ("delivered", None), "failed never beats delivered"


def graph_ids(server) -> list[str]:
    org = server.services.organizations.by_slug("acme")
    with server.services.database.read() as session:
        rows = session.exec(
            select(Message.provider_message_id).where(
                Message.org_id == org.id, Message.direction == "outbound"
            )
        ).all()
    return [r for r in rows if r and r.startswith("wamid.FAKE")]


def delivery_status(server, wamid: str) -> tuple[str | None, str | None]:
    with server.services.database.read() as session:
        row = session.exec(select(Message).where(Message.provider_message_id == wamid)).one()
        return row.delivery_status, row.delivery_error_code


def test_a_refused_send_is_recorded_as_failed_with_metas_code(server, graph) -> None:
    """131047 (outside the 24-hour window) is not retried and shows on the message."""
    graph.errors = [(400, 131047)] * 10
    deliver(server, fixture("text.json"))
    org = server.services.organizations.by_slug("acme")
    with server.services.database.read() as session:
        outbound = session.exec(
            select(Message).where(Message.org_id == org.id, Message.direction == "outbound")
        ).all()
    assert outbound and all(m.delivery_status == "failed" for m in outbound)
    assert {m.delivery_error_code for m in outbound} == {"131047"}


# -- the adapter alone ---------------------------------------------------------------------


def test_options_chosen_by_tap_carry_their_ids() -> None:
    channel = MetaCloudChannel()
    from datetime import UTC, datetime

    now = datetime(2026, 12, 2, tzinfo=UTC)
    [button] = channel.parse(
        fixture("interactive_button_reply.json"), org_slug="a", received_at=now
    )
    assert (button.button_payload, button.text) == ("handoff:yes", "Talk to a person")
    [row] = channel.parse(fixture("interactive_list_reply.json"), org_slug="a", received_at=now)
    assert (row.button_payload, row.text) == ("entry:42", "Check my balance")
    [quick] = channel.parse(fixture("template_quick_reply.json"), org_slug="a", received_at=now)
    assert (quick.button_payload, quick.text) == ("csat:5", "Very good")
    [voice] = channel.parse(fixture("voice_note.json"), org_slug="a", received_at=now)
    assert voice.media[0].content_type.startswith("audio/ogg")
    assert voice.media[0].url == "meta-media:1003383421387256", "metadata only, nothing fetched"
    [place] = channel.parse(fixture("location.json"), org_slug="a", received_at=now)
    assert place.text == "Imara Pesa agent Moi Avenue, Nairobi"


def test_the_signature_check_is_hmac_sha256_of_the_raw_bytes() -> None:
    body = b'{"object":"whatsapp_business_account"}'
    verify_signature(app_secret="s", body=body, header=signed(body, "s")["X-Hub-Signature-256"])
    with pytest.raises(SignatureInvalid):
        verify_signature(
            app_secret="s", body=body + b" ", header=signed(body, "s")["X-Hub-Signature-256"]
        )
    with pytest.raises(SignatureInvalid):
        verify_signature(app_secret="s", body=body, header="sha1=abc")


def test_send_failures_say_whether_to_retry(graph) -> None:
    from imaradesk.channels.base import ProviderAccount, Recipient
    from imaradesk.channels.messages import OutboundMessage, ReplyKind

    channel = MetaCloudChannel(graph_base_url=graph.url)
    account = ProviderAccount(PHONE_NUMBER_ID, ACCESS_TOKEN, PHONE_NUMBER_ID)
    to = Recipient(1, "acme", "whatsapp_cloud", "254722000111")
    message = OutboundMessage("hello", ReplyKind.ANSWER)
    for status, code, retryable in [(400, 131047, False), (400, 130429, True), (500, 1, True)]:
        graph.errors = [(status, code)]
        with pytest.raises(SendFailed) as failure:
            channel.send(message, to=to, account=account)
        assert (failure.value.code, failure.value.retryable) == (str(code), retryable)
    with pytest.raises(SendFailed) as unauthorised:
        channel.send(message, to=to, account=ProviderAccount(PHONE_NUMBER_ID, "stolen", "x"))
    assert unauthorised.value.code == "190" and not unauthorised.value.retryable
    receipt = channel.send(message, to=to, account=account)
    assert receipt.provider_message_id.startswith("wamid.") and graph.texts() == ["hello"]
    with pytest.raises(MalformedRequest):
        channel.parse(
            {"object": "whatsapp_business_account", "entry": "x"}, org_slug="a", received_at=None
        )  # type: ignore[arg-type]


# -- imaradesk org meta --------------------------------------------------------------------


def test_org_meta_connects_a_number_with_secrets_from_the_environment(
    make_services, sqlite_database
) -> None:
    from click.testing import CliRunner
    from sqlalchemy import text

    from imaradesk.cli import _Context, main

    services = make_services(sqlite_database)
    seed_org(services, "shop")

    def run(*args: str, env: dict[str, str] | None = None, input: str | None = None):
        return CliRunner().invoke(
            main,
            ["org", "meta", "--org", "shop", *args],
            obj=_Context(services),
            env=env,
            input=input,
        )

    env = {"APP": APP_SECRET, "TOKEN": ACCESS_TOKEN, "VERIFY": VERIFY_TOKEN}
    result = run(
        "--phone-number-id", PHONE_NUMBER_ID, "--waba-id", "102290129340398",
        "--app-secret-env", "APP", "--access-token-env", "TOKEN", "--verify-token-env", "VERIFY",
        env=env,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "/channels/meta/shop/webhook" in result.output
    assert all(secret not in result.output for secret in env.values())
    org = services.organizations.by_slug("shop")
    assert (org.meta_phone_number_id, org.meta_app_secret, org.meta_access_token) == (
        PHONE_NUMBER_ID,
        APP_SECRET,
        ACCESS_TOKEN,
    )
    with services.database.engine.connect() as conn:
        raw = conn.execute(
            text("SELECT meta_app_secret, meta_access_token FROM organization WHERE slug='shop'")
        ).one()
    assert APP_SECRET not in raw[0] and ACCESS_TOKEN not in raw[1], "sealed at rest"
    assert f"number {PHONE_NUMBER_ID}" in run().output
    assert run("--phone-number-id", "not-digits").exit_code != 0
    assert run("--app-secret-env", "UNSET_VARIABLE").exit_code != 0
    assert run("--off").exit_code == 0
    org = services.organizations.by_slug("shop")
    assert (org.meta_phone_number_id, org.meta_app_secret, org.meta_access_token) == (None,) * 3


def test_a_redelivery_after_erasure_brings_nothing_back(server, graph) -> None:
    """Meta may redeliver days later: the erasure tombstone's keyed hash of the wamid knows it,
    so an erased customer is neither answered nor stored again (a new message would be)."""
    deliver(server, fixture("text.json"))
    services = server.services
    org = services.organizations.by_slug("acme")
    with services.database.read() as session:
        contact = OrgData(session, org.id).find_contact("whatsapp_cloud", "KE.1502576394655843")
    services.privacy.erase(org, contact.id, request_id=None, actor="admin:test")
    sent_before = len(graph.received)
    assert deliver(server, fixture("text.json")).status_code == 200
    assert len(graph.received) == sent_before and stored_messages(server) == 0
    with services.database.read() as session:
        assert (
            OrgData(session, org.id).find_contact("whatsapp_cloud", "KE.1502576394655843") is None
        )


def test_messages_to_another_number_are_not_this_organizations(server, graph) -> None:
    """One Meta app may serve several numbers: only the organization's own becomes its turn."""
    payload = json.loads(
        json.dumps(fixture("text.json")).replace(PHONE_NUMBER_ID, "999999999999999")
    )
    response = deliver(server, payload)
    assert response.status_code == 200 and response.json()["messages"] == 0
    assert graph.received == [] and stored_messages(server) == 0


def test_a_lone_surrogate_is_replaced_and_the_message_kept(server, graph) -> None:
    body = (
        json.dumps(fixture("text.json")).replace("How do I check", "How \\ud800do I check").encode()
    )
    assert b"\\ud800" in body
    assert deliver(server, body).status_code == 200
    assert stored_messages(server) > 0 and graph.texts(), "stored and answered, not a 500"


def test_choices_go_out_as_buttons_or_a_list_and_a_tap_reads_as_the_typed_number(graph) -> None:
    """Up to 3 short titles: reply buttons; longer or more: a list whose rows keep the number.
    Tapping option 2 arrives as "2", exactly what typing it sends."""
    from datetime import UTC, datetime

    from imaradesk.channels.base import ProviderAccount, Recipient
    from imaradesk.channels.messages import OutboundMessage, ReplyKind, ReplyOption

    channel = MetaCloudChannel(graph_base_url=graph.url)
    account = ProviderAccount(PHONE_NUMBER_ID, ACCESS_TOKEN, PHONE_NUMBER_ID)
    to = Recipient(1, "acme", "whatsapp_cloud", "KE.1502576394655843")
    short = OutboundMessage(
        "Did you mean one of these?\n1. Balance\n2. PIN",
        ReplyKind.CLARIFY,
        options=(ReplyOption("1", "Balance"), ReplyOption("2", "PIN")),
    )
    channel.send(short, to=to, account=account)
    buttons = graph.received[-1]["interactive"]
    assert buttons["type"] == "button" and buttons["body"]["text"] == short.text
    assert [b["reply"] for b in buttons["action"]["buttons"]] == [
        {"id": "1", "title": "Balance"},
        {"id": "2", "title": "PIN"},
    ]
    long = OutboundMessage(
        "Je, ulimaanisha mojawapo ya haya?",
        ReplyKind.CLARIFY,
        options=(
            ReplyOption("1", "Nitabadilishaje PIN yangu ya Imara Pesa?"),
            ReplyOption("2", "Nawezaje kuangalia salio langu?"),
        ),
    )
    channel.send(long, to=to, account=account)
    listed = graph.received[-1]["interactive"]
    assert listed["type"] == "list"
    rows = listed["action"]["sections"][0]["rows"]
    assert [r["id"] for r in rows] == ["1", "2"]
    assert all(len(r["title"]) <= 24 and len(r["description"]) <= 72 for r in rows)
    assert rows[0]["title"].startswith("1. Nitabadilishaje")
    assert rows[1]["description"] == "Nawezaje kuangalia salio langu?"

    tap = json.loads(
        json.dumps(fixture("interactive_list_reply.json")).replace('"entry:42"', '"2"')
    )
    [message] = channel.parse(tap, org_slug="acme", received_at=datetime(2026, 12, 2, tzinfo=UTC))
    assert (message.text, message.button_payload) == ("2", "2")


# -- one contact per person: BSUIDs, phones, changes, reactions -----------------------------

BSUID, PHONE, NEW_PHONE = "KE.1502576394655843", "254722000111", "254733000222"
_next_wamid = iter(range(10_000))


def customer_message(
    text: str, *, bsuid: str | None = None, phone: str | None = None, wamid: str | None = None
) -> dict:
    """text.json as it arrives when Meta knows the customer by ``bsuid``, ``phone`` or both."""
    payload = fixture("text.json")
    value = payload["entry"][0]["changes"][0]["value"]
    message, contact = value["messages"][0], value["contacts"][0]
    message["id"] = wamid or f"wamid.HBgMMjU0NzIyMDAwMTExFQIAEhgUIDENT{next(_next_wamid):06d}"
    message["text"]["body"] = text
    for raw, key_phone, key_bsuid in (
        (message, "from", "from_user_id"),
        (contact, "wa_id", "user_id"),
    ):
        raw.pop(key_phone), raw.pop(key_bsuid)
        if phone:
            raw[key_phone] = phone
        if bsuid:
            raw[key_bsuid] = bsuid
    return payload


def system_change(kind: str, **fields: str) -> dict:
    payload = fixture("system_user_changed_number.json")
    message = payload["entry"][0]["changes"][0]["value"]["messages"][0]
    message["id"] = f"wamid.HBgMMjU0NzIyMDAwMTExFQIAEhgUSYSTEM{next(_next_wamid):06d}"
    message["system"] = {"body": "changed", "type": kind}
    for key, value in fields.items():
        (message if key in ("from", "from_user_id") else message["system"])[key] = value
    return payload


def contacts(server) -> list[Contact]:
    org = server.services.organizations.by_slug("acme")
    with server.services.database.read() as session:
        return list(
            session.exec(select(Contact).where(Contact.org_id == org.id).order_by(Contact.id))
        )


def contact_messages(server, contact_id: int) -> list[str]:
    with server.services.database.read() as session:
        return [
            m.body
            for m in session.exec(
                select(Message)
                .where(Message.contact_id == contact_id, Message.direction == "inbound")
                .order_by(Message.id)
            )
        ]


def test_a_phone_known_customer_who_gains_a_bsuid_stays_one_contact(server, graph) -> None:
    """Before BSUIDs, or from a provider that forwards only the phone: the customer is keyed by
    phone. When both arrive, the contact is re-keyed to the BSUID and the phone still finds it:
    one history, one consent (the privacy notice is not shown twice)."""
    deliver(server, customer_message("Habari, nataka kujua salio langu", phone=PHONE))
    notices = sum("privacy" in t.lower() or "faragha" in t.lower() for t in graph.texts())
    deliver(server, customer_message("How do I check my balance?", bsuid=BSUID, phone=PHONE))
    deliver(server, customer_message("agent please", phone=PHONE))
    [contact] = contacts(server)
    assert (contact.address, contact.alias) == (BSUID, PHONE)
    assert len(contact_messages(server, contact.id)) == 3
    again = sum("privacy" in t.lower() or "faragha" in t.lower() for t in graph.texts())
    assert notices == 1 and again == 1, "one customer, told once"


def test_two_contacts_of_one_person_are_merged_when_a_message_names_both(server, graph) -> None:
    """A username-only customer (BSUID) and the same person's phone-keyed past merge into the
    older contact; the stricter protection of either holds for both, and the audit trail
    records the merge (never the identifiers)."""
    deliver(server, customer_message("How do I check my balance?", phone=PHONE))
    deliver(server, customer_message("Ninawezaje kuangalia salio?", bsuid=BSUID))
    phone_contact, bsuid_contact = contacts(server)
    org = server.services.organizations.by_slug("acme")
    with server.services.database.write() as session:
        OrgData(session, org.id).set_restricted(
            OrgData(session, org.id).find_contact("whatsapp_cloud", BSUID), restricted=True
        )
    deliver(server, customer_message("Asante", bsuid=BSUID, phone=PHONE))
    [merged] = contacts(server)
    assert merged.id == phone_contact.id, "the older contact is kept: its id is in the records"
    assert (merged.address, merged.alias) == (BSUID, PHONE)
    assert merged.restricted, "a restriction asked for under either identifier holds"
    assert len(contact_messages(server, merged.id)) == 3
    with server.services.database.read() as session:
        [event] = [
            e
            for e in ComplianceData(session, org.id).audit_trail()
            if e.action == "contacts_merged"
        ]
        assert PHONE not in (event.note or "") and BSUID not in (event.note or "")


def test_a_changed_number_moves_the_history_and_the_old_number_opens_nothing(server, graph) -> None:
    """A number given up is someone else's next: after ``user_changed_number`` the new number
    finds the customer's history and the old one starts a stranger's conversation."""
    deliver(server, customer_message("How do I check my balance?", phone=PHONE))
    deliver(server, system_change("user_changed_number", **{"from": PHONE, "wa_id": NEW_PHONE}))
    deliver(server, customer_message("Habari, salio langu?", phone=NEW_PHONE))
    deliver(server, customer_message("hello", phone=PHONE))
    customer, stranger = contacts(server)
    assert customer.address == NEW_PHONE and customer.alias is None
    assert len(contact_messages(server, customer.id)) == 2
    assert stranger.address == PHONE and contact_messages(server, stranger.id) == ["hello"]


def test_a_changed_number_under_a_bsuid_replaces_the_alias(server, graph) -> None:
    deliver(server, customer_message("How do I check my balance?", bsuid=BSUID, phone=PHONE))
    deliver(
        server,
        system_change(
            "user_changed_number", **{"from": PHONE, "from_user_id": BSUID, "wa_id": NEW_PHONE}
        ),
    )
    [contact] = contacts(server)
    assert (contact.address, contact.alias) == (BSUID, NEW_PHONE)
    deliver(server, customer_message("hello", phone=PHONE))
    assert len(contacts(server)) == 2, "the old number no longer names the customer"


def test_a_new_bsuid_keeps_the_customer(server, graph) -> None:
    new_bsuid = "KE.9902576394655843"
    deliver(server, customer_message("How do I check my balance?", bsuid=BSUID, phone=PHONE))
    deliver(
        server,
        system_change("user_changed_user_id", **{"from_user_id": BSUID, "user_id": new_bsuid}),
    )
    deliver(server, customer_message("Asante sana", bsuid=new_bsuid))
    [contact] = contacts(server)
    assert (contact.address, contact.alias) == (new_bsuid, PHONE)
    assert len(contact_messages(server, contact.id)) == 2


def test_a_reaction_is_kept_on_our_message_and_only_from_its_customer(server, graph) -> None:
    deliver(server, customer_message("How do I check my balance?", bsuid=BSUID, phone=PHONE))
    [answer_wamid] = [w for w in graph_ids(server) if delivery_text(server, w) == BALANCE_ANSWER]

    def react(emoji: str, sender: str) -> None:
        payload = fixture("reaction.json")
        message = payload["entry"][0]["changes"][0]["value"]["messages"][0]
        message["id"] = f"wamid.HBgMMjU0NzIyMDAwMTExFQIAEhgUREACT{next(_next_wamid):06d}"
        message["reaction"] = {"message_id": answer_wamid, "emoji": emoji}
        message["from_user_id"], message["from"] = sender, "254799999999"
        deliver(server, payload)

    react("👍", "KE.7777776394655843")
    assert reaction(server, answer_wamid) is None, "another customer cannot mark our message"
    react("👍", BSUID)
    assert reaction(server, answer_wamid) == "👍"
    react("", BSUID)
    assert reaction(server, answer_wamid) is None, "taken back"


def delivery_text(server, wamid: str) -> str:
    with server.services.database.read() as session:
        return session.exec(select(Message).where(Message.provider_message_id == wamid)).one().body


def reaction(server, wamid: str) -> str | None:
    with server.services.database.read() as session:
        row = session.exec(select(Message).where(Message.provider_message_id == wamid)).one()
        return row.reaction


def test_an_erased_merged_customer_leaves_no_alias_behind(server, graph) -> None:
    """Erasure of a customer known by BSUID and phone: the export names both, erasure removes
    both, and a later message from the phone alone finds no history."""
    deliver(server, customer_message("How do I check my balance?", bsuid=BSUID, phone=PHONE))
    services, org = server.services, server.services.organizations.by_slug("acme")
    [contact] = contacts(server)
    with services.database.read() as session:
        export = collect(ComplianceData(session, org.id), contact.id)
    assert (export["contact"]["address"], export["contact"]["also_known_as"]) == (BSUID, PHONE)
    services.privacy.erase(org, contact.id, request_id=None, actor="admin:test")
    deliver(server, customer_message("Habari", phone=PHONE))
    [fresh] = contacts(server)
    assert (fresh.address, fresh.alias) == (PHONE, None), "a new contact, not the erased one"
    assert contact_messages(server, fresh.id) == ["Habari"]


# -- approved templates, synced from Meta --------------------------------------------------


def meta_template(name: str, language: str, status: str, body: str) -> dict:
    """One template as the Graph API lists it."""
    return {
        "name": name,
        "language": language,
        "status": status,
        "category": "UTILITY",
        "id": str(abs(hash((name, language))) % 10**15),
        "components": [
            {"type": "HEADER", "format": "TEXT", "text": "Acme"},
            {"type": "BODY", "text": body},
        ],
    }


@pytest.fixture
def synced(server, graph):
    """Five templates at Meta over three pages: three approved (one in Swahili), one rejected,
    one pending; and a Twilio template of the same organization beside them."""
    from imaradesk.console.setup import DeskSetup

    graph.templates = [
        meta_template("order_update", "en", "APPROVED", "Your order {{1}} has shipped."),
        meta_template("order_update", "sw", "APPROVED", "Oda yako {{1}} imetumwa."),
        meta_template("promo_blast", "en", "REJECTED", "Buy now!"),
        meta_template("follow_up", "en_US", "APPROVED", "We are following up on your request."),
        meta_template("draft_notice", "en", "PENDING", "Not yet."),
    ]
    org = server.services.organizations.by_slug("acme")
    server.services.organizations.update(org.id, meta_waba_id=graph.waba_id)
    DeskSetup(server.services.database).add_template(
        org.id, name="twilio one", content_sid="HX" + "1" * 32, body="Hello from Twilio"
    )
    return server.services.organizations.by_slug("acme")


def test_a_sync_keeps_exactly_the_approved_templates_over_every_page(server, graph, synced):
    services = server.services
    report = services.template_sync.sync(synced)
    assert (report.approved, report.added, report.removed) == (3, 3, 0)
    templates = {(t.provider, t.content_sid): t for t in services.outbound.templates(synced)}
    assert set(templates) == {
        ("meta", "order_update:en"),
        ("meta", "order_update:sw"),
        ("meta", "follow_up:en_US"),
        ("twilio", "HX" + "1" * 32),
    }
    assert templates[("meta", "order_update:sw")].body == "Oda yako {{1}} imetumwa."
    kept_id = templates[("meta", "order_update:en")].id

    graph.templates[0]["components"][1]["text"] = "Order {{1}} is on its way."
    graph.templates[3]["status"] = "PAUSED"
    again = services.template_sync.sync(synced)
    assert (again.added, again.updated, again.removed) == (0, 1, 1)
    after = {(t.provider, t.content_sid): t for t in services.outbound.templates(synced)}
    assert ("meta", "follow_up:en_US") not in after, "no longer approved: no longer offered"
    assert after[("meta", "order_update:en")].id == kept_id, "a kept template keeps its id"
    assert ("twilio", "HX" + "1" * 32) in after, "Twilio's templates are not Meta's to remove"


def test_after_the_window_only_metas_templates_are_offered_and_sent_by_name(
    server, graph, synced, clock
) -> None:
    from datetime import timedelta

    from imaradesk.delivery.outbound import OutboundError, WindowClosed

    services = server.services
    services.template_sync.sync(synced)
    deliver(server, customer_message("nataka mhudumu", bsuid=BSUID, phone=PHONE))
    [waiting] = services.desk.inbox(synced)
    clock.advance(timedelta(hours=25))
    view = services.desk.view(synced, waiting.handoff.id)
    assert not view.window_open
    assert {t.provider for t in view.templates} == {"meta"}, "a Content SID means nothing here"
    with pytest.raises(WindowClosed):
        services.outbound.send_text(synced, view.conversation, "hello", agent_id=None)
    swahili = next(t for t in view.templates if t.content_sid == "order_update:sw")
    services.outbound.send_template(synced, view.conversation, swahili.id, agent_id=None)
    sent = graph.received[-1]
    assert sent["type"] == "template"
    assert sent["template"] == {"name": "order_update", "language": {"code": "sw"}}
    twilio = next(t for t in services.outbound.templates(synced) if t.provider == "twilio")
    with pytest.raises(OutboundError):
        services.outbound.send_template(synced, view.conversation, twilio.id, agent_id=None)


def test_a_sync_that_cannot_happen_says_why_and_changes_nothing(server, graph, synced) -> None:
    from imaradesk.delivery.template_sync import TemplateSyncError

    services = server.services
    graph.errors = [(401, 190)]
    with pytest.raises(TemplateSyncError, match="190"):
        services.template_sync.sync(synced)
    services.organizations.update(synced.id, meta_waba_id=None)
    with pytest.raises(TemplateSyncError, match="Business Account id"):
        services.template_sync.sync(services.organizations.by_slug("acme"))
    assert [t.provider for t in services.outbound.templates(synced)] == ["twilio"]


def test_template_sync_from_the_command_line(server, graph, synced) -> None:
    from click.testing import CliRunner

    from imaradesk.cli import _Context, main

    result = CliRunner().invoke(
        main, ["template", "--org", "acme", "--sync"], obj=_Context(server.services)
    )
    assert result.exit_code == 0, result.output
    assert "3 approved at Meta: 3 added, 0 updated, 0 removed." in result.output


# -- customers' media, kept only when the organization asks --------------------------------

VOICE_NOTE_ID = "1003383421387256"
OGG = b"OggS\x00\x02" + bytes(range(256)) * 40  # stands in for a real Opus voice note


def media_rows(server) -> list:
    from imaradesk.storage.models import MediaFile

    with server.services.database.read() as session:
        return list(session.exec(select(MediaFile)))


def agent_session(server):
    from tests.web.console_helpers import PASSWORD, ConsoleSession

    org = server.services.organizations.by_slug("acme")
    server.services.accounts.create(
        org.id,
        email="wanjiku@acme.example",
        name="Wanjiku",
        role="agent",
        languages=["sw", "en"],
        password=PASSWORD,
        verified=True,
    )
    session = ConsoleSession(server.url)
    assert session.login("wanjiku@acme.example", PASSWORD).status_code == 200
    return session


def test_media_is_not_fetched_unless_the_organization_keeps_it(server, graph) -> None:
    graph.media[VOICE_NOTE_ID] = ("audio/ogg", OGG)
    deliver(server, fixture("voice_note.json"))
    assert graph.texts(), "answered"
    assert graph.media_downloads == 0 and media_rows(server) == []


def test_a_kept_voice_note_is_sealed_and_plays_in_the_console_for_the_agent(server, graph) -> None:
    """After the reply (the customer never waits for a download), the file is fetched with
    the token, sealed at rest, and an agent of the conversation can play it; nobody else."""
    from sqlalchemy import text

    graph.media[VOICE_NOTE_ID] = ("audio/ogg", OGG)
    org = server.services.organizations.by_slug("acme")
    server.services.organizations.update(org.id, fetch_media=True)
    deliver(server, fixture("voice_note.json"))
    server.services.jobs.wait(timeout=30)
    [row] = media_rows(server)
    assert (row.content_type, row.size) == ("audio/ogg", len(OGG))
    with server.services.database.engine.connect() as conn:
        raw = conn.execute(text("SELECT data FROM mediafile")).scalar_one()
    assert OGG[:64] not in bytes(raw), "sealed at rest"

    deliver(server, tap("agent", "Talk to a person"))
    agent = agent_session(server)
    [waiting] = server.services.desk.inbox(org)
    page = agent.get(f"/console/handoffs/{waiting.handoff.id}")
    assert "<audio" in page.text and "Voice note from the customer" in page.text
    played = agent.get(f"/console/handoffs/{waiting.handoff.id}/messages/{row.message_id}/media/0")
    assert played.status_code == 200 and played.content == OGG
    assert played.headers["Content-Type"].startswith("audio/ogg")
    assert "sandbox" in played.headers["Content-Security-Policy"]
    wrong = agent.get(f"/console/handoffs/{waiting.handoff.id}/messages/{row.message_id}/media/1")
    assert wrong.status_code == 404
    import requests as plain

    anonymous = plain.get(
        f"{server.url}/console/handoffs/{waiting.handoff.id}/messages/{row.message_id}/media/0",
        allow_redirects=False,
        timeout=10,
    )
    assert anonymous.status_code in (302, 401) and anonymous.content != OGG


def test_erasure_takes_the_kept_media_with_it(server, graph) -> None:
    graph.media[VOICE_NOTE_ID] = ("audio/ogg", OGG)
    org = server.services.organizations.by_slug("acme")
    server.services.organizations.update(org.id, fetch_media=True)
    deliver(server, fixture("voice_note.json"))
    server.services.jobs.wait(timeout=30)
    assert len(media_rows(server)) == 1
    [contact] = contacts(server)
    server.services.privacy.erase(org, contact.id, request_id=None, actor="admin:test")
    assert media_rows(server) == []


def test_media_over_the_limit_or_from_a_foreign_host_is_not_kept(
    make_services, live_server_factory, sqlite_database, graph
) -> None:
    server = meta_server(
        make_services, live_server_factory, sqlite_database, graph, media_max_bytes=1024
    )
    services = server.services
    services.organizations.update(services.organizations.by_slug("acme").id, fetch_media=True)
    graph.media[VOICE_NOTE_ID] = ("audio/ogg", OGG)  # 10 KB, over the 1 KB limit
    deliver(server, fixture("voice_note.json"))
    services.jobs.wait(timeout=30)
    assert graph.texts(), "the customer is answered all the same"
    assert media_rows(server) == [] and graph.media_downloads == 0, "refused by its size"

    from imaradesk.channels.base import SendFailed

    graph.media_url = "https://attacker.example/steal"
    channel = MetaCloudChannel(graph_base_url=graph.url)
    with pytest.raises(SendFailed, match="not Meta's"):
        channel.fetch_media(VOICE_NOTE_ID, access_token=ACCESS_TOKEN, max_bytes=10**6)


# -- replies stored but never sent (a worker stopped between the two) ----------------------


def stored_but_unsent(server, text: str = "Ninawezaje kuangalia salio?") -> int:
    """A turn as a worker that died after storing it leaves it: replies stored, none sent."""
    from datetime import UTC, datetime

    from imaradesk.channels.messages import InboundMessage

    payload = customer_message(text, bsuid=BSUID, phone=PHONE)
    [message] = MetaCloudChannel().parse(payload, org_slug="acme", received_at=datetime.now(UTC))
    org = server.services.organizations.by_slug("acme")
    turn = server.services.dialogue.handle(org, message)
    assert turn.replies and isinstance(message, InboundMessage)
    return payload


def test_a_redelivery_sends_the_replies_a_dead_worker_stored(server, graph) -> None:
    payload = stored_but_unsent(server, "How do I check my balance?")
    assert graph.received == []
    deliver(server, payload)  # Meta retries: nothing stored again, the replies go out
    first = len(graph.received)
    assert first >= 2 and graph.texts()[-1] == BALANCE_ANSWER, "the notice and the answer"
    deliver(server, payload)
    assert len(graph.received) == first, "sent once: a further redelivery sends nothing"


def test_a_restarted_service_sends_what_it_left_unsent(server, graph, clock) -> None:
    from datetime import timedelta

    stored_but_unsent(server)
    services = server.services
    assert (
        services.outbound.resend_unsent(services.organizations, within=timedelta(hours=24)) == 0
    ), "a reply younger than a minute may still be on its way"
    clock.advance(timedelta(minutes=2))
    assert services.outbound.resend_unsent(services.organizations, within=timedelta(hours=24)) == 1
    sent = len(graph.received)
    assert sent >= 2
    assert services.outbound.resend_unsent(services.organizations, within=timedelta(hours=24)) == 0
    assert len(graph.received) == sent


def test_two_senders_at_once_send_a_reply_once(server, graph) -> None:
    """A redelivery arrives while the first worker is still sending (a slow Graph API): each
    reply is claimed by one of them."""
    stored_but_unsent(server)
    graph.send_delay = 0.3
    services = server.services
    org = services.organizations.by_slug("acme")
    with services.database.read() as session:
        inbound = session.exec(select(Message).where(Message.direction == "inbound")).one()
    barrier = threading.Barrier(2)

    def send() -> None:
        barrier.wait()
        services.outbound.send_replies(org, inbound.id)

    threads = [threading.Thread(target=send) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    bodies = [m.get("text", {}).get("body") for m in graph.received]
    assert len(bodies) == len(set(bodies)), bodies


def test_a_send_whose_answer_was_lost_is_known_sent_by_its_status_and_never_repeated(
    make_services, live_server_factory, sqlite_database, graph
) -> None:
    """The Graph API takes the reply but answers after our timeout: the send is not repeated
    at once (Meta may have it), and the status report Meta posts, carrying our message's id
    in biz_opaque_callback_data, records it as sent, so no later pass sends it again."""
    from datetime import timedelta

    from imaradesk.bot.background_turns import RETRY_FIRST
    from imaradesk.delivery.outbound import SEND_CLAIM

    server = meta_server(
        make_services,
        live_server_factory,
        sqlite_database,
        graph,
        meta_graph_timeout_seconds=0.5,
    )
    graph.status_webhook, graph.app_secret = webhook(server), APP_SECRET
    graph.send_delay = 1.0  # every send is taken, and answered too late
    deliver(server, fixture("text.json"))
    services = server.services
    deadline = time.monotonic() + 15
    while len(graph_ids(server)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)  # the status reports arrive after the late answers
    assert len(graph.received) == 2, "the notice and the answer, each sent once"
    assert len(graph_ids(server)) == 2, "both recorded from their status reports"
    assert all(sent["biz_opaque_callback_data"].startswith("imaradesk:") for sent in graph.received)

    graph.send_delay = 0.0
    services.clock.advance(SEND_CLAIM + RETRY_FIRST * 4)
    services.background_turns.resume()
    services.outbound.resend_unsent(services.organizations, within=timedelta(days=1))
    services.jobs.wait(timeout=30)
    assert len(graph.received) == 2, "nothing was sent twice"

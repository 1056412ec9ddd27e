"""Every route, called for organization B with organization A's credentials, is refused and
leaves B untouched. A new route fails this test until it is added to the matrix."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from pathlib import Path

import requests
from itsdangerous import URLSafeTimedSerializer
from sqlmodel import func, select

from imaradesk.storage.db import Database
from imaradesk.storage.models import Contact, Message
from imaradesk.storage.repositories import OrgData
from tests.helpers import SCHOOL_FAQ, post_signed, seed_org, twilio_form
from tests.web.console_helpers import ConsoleSession

A_TOKEN = "token-of-a"
B_TOKEN = "token-of-b"


def snapshot(database: Database, org_id: int) -> tuple[int, int, list]:
    with database.read() as session:
        messages = session.exec(
            select(func.count()).select_from(Message).where(Message.org_id == org_id)
        ).one()
        contacts = session.exec(
            select(func.count()).select_from(Contact).where(Contact.org_id == org_id)
        ).one()
        statuses = session.exec(
            select(Message.delivery_status).where(Message.org_id == org_id)
        ).all()
    return messages, contacts, list(statuses)


def test_every_route_refuses_org_a_credentials_for_org_b(
    make_services, live_server_factory, database: Database
) -> None:
    services = make_services(database)
    org_a = seed_org(services, "org-a", twilio_auth_token=A_TOKEN)
    org_b = seed_org(services, "org-b", faq_csv=SCHOOL_FAQ, twilio_auth_token=B_TOKEN)
    server = live_server_factory(services)
    base = server.url
    # Give B some data to protect.
    response = post_signed(
        f"{base}/channels/twilio/org-b/messages",
        twilio_form(body="How do I pay school fees?"),
        token=B_TOKEN,
    )
    assert response.status_code == 200
    # B's customer is with a person, and B has an admin.
    assert (
        post_signed(
            f"{base}/channels/twilio/org-b/messages",
            twilio_form(body="I want to talk to an agent"),
            token=B_TOKEN,
        ).status_code
        == 200
    )
    services.accounts.create(
        org_b.id,
        email="admin@b.example",
        name="B admin",
        role="admin",
        password="password of b!",
        verified=True,
    )
    org_a = services.organizations.by_slug("org-a")
    services.accounts.create(
        org_a.id,
        email="admin@a.example",
        name="A admin",
        role="admin",
        password="password of a!",
        verified=True,
    )
    with database.read() as session:
        [b_handoff] = OrgData(session, org_b.id).handoffs()
        b_message = OrgData(session, org_b.id).messages_of(b_handoff.conversation_id)[-1]
    a_console = ConsoleSession(base)
    assert a_console.login("admin@a.example", "password of a!").status_code == 200
    before = snapshot(database, org_b.id)

    def twilio_inbound() -> int:
        url = f"{base}/channels/twilio/org-b/messages"
        return post_signed(url, twilio_form(body="hi from A"), token=A_TOKEN).status_code

    # Both connected to Meta's Cloud API, each with its own app secret and verify token.
    for org_id, name in ((org_a.id, "a"), (org_b.id, "b")):
        services.organizations.update(
            org_id,
            meta_phone_number_id="1065403522429" + ("1" if name == "a" else "2"),
            meta_app_secret=f"app-secret-of-{name}",
            meta_access_token=f"access-token-of-{name}",
            meta_verify_token=f"verify-token-of-{name}",
        )

    def meta_handshake() -> int:
        params = {
            "hub.mode": "subscribe",
            "hub.verify_token": "verify-token-of-a",
            "hub.challenge": "7",
        }
        return requests.get(
            f"{base}/channels/meta/org-b/webhook", params=params, timeout=10
        ).status_code

    def meta_notification() -> int:
        body = (Path(__file__).parent.parent / "fixtures" / "meta" / "text.json").read_bytes()
        digest = hmac.new(b"app-secret-of-a", body, hashlib.sha256).hexdigest()
        return requests.post(
            f"{base}/channels/meta/org-b/webhook",
            data=body,
            headers={"X-Hub-Signature-256": f"sha256={digest}"},
            timeout=10,
        ).status_code

    def twilio_status() -> int:
        url = f"{base}/channels/twilio/org-b/status?m=1"
        return post_signed(
            url,
            {
                "MessageSid": "SM" + "f" * 32,
                "MessageStatus": "failed",
                "To": "whatsapp:+254700000001",
            },
            token=A_TOKEN,
        ).status_code

    # A visitor of A's web chat: its token is A's credential on the public channels.
    a_visitor = requests.post(f"{base}/channels/webchat/org-a/visitors", timeout=10).json()
    a_bearer = {"Authorization": f"Bearer {a_visitor['token']}"}

    def refused(response: requests.Response) -> int:
        # 401 is the channels' refusal of a token that is not the organization's.
        assert response.status_code == 401, response.text
        return 403

    def webchat() -> int:
        return refused(
            requests.post(
                f"{base}/channels/webchat/org-b/messages",
                json={"text": "How do I check my balance?"},
                headers=a_bearer,
                timeout=10,
            )
        )

    def webchat_visitor_token() -> int:
        # Renewing A's token at B, or claiming an identity B never signed.
        url = f"{base}/channels/webchat/org-b/visitors"
        refused(requests.post(url, headers=a_bearer, timeout=10))
        claim = requests.post(url, json={"user_id": "u1", "user_hash": "0" * 64}, timeout=10)
        assert claim.status_code == 403
        return 403

    def webchat_history() -> int:
        return refused(
            requests.get(f"{base}/channels/webchat/org-b/history", headers=a_bearer, timeout=10)
        )

    def rasa_webhook() -> int:
        return refused(
            requests.post(
                f"{base}/channels/rasa/org-b/webhook",
                json={"sender": a_visitor["token"], "message": "How do I check my balance?"},
                timeout=10,
            )
        )

    def health() -> int:
        body = requests.get(f"{base}/healthz", timeout=10).json()
        assert body == {"status": "ok"}, "health says nothing about any organization"
        return 403

    def subject_export() -> int:
        # A's customer's real link works for A's data; a link claiming B's data, made by someone
        # who knows the format but not the server's secret, is unknown.
        a_org = services.organizations.by_slug("org-a")
        with database.write() as session:
            a_contact = OrgData(session, a_org.id).add_contact(
                channel="whatsapp",
                address="+254700000077",
                display_name=None,
                now=services.clock.now(),
                retain_until=services.clock.now(),
            )
        token = services.exports.write(a_org.id, a_contact.id, {"organization": "A"})
        assert requests.get(f"{base}/privacy/exports/{token}", timeout=10).status_code == 200
        claims = URLSafeTimedSerializer(services.signing_secret, salt="x").loads(
            token, salt="imaradesk-subject-export"
        )
        forged = URLSafeTimedSerializer("not-the-secret", salt="imaradesk-subject-export").dumps(
            {**claims, "o": org_b.id}
        )
        return requests.get(f"{base}/privacy/exports/{forged}", timeout=10).status_code

    def b_handoff_route(
        suffix: str, method: str = "get", data: dict | None = None
    ) -> Callable[[], int]:
        def attempt() -> int:
            path = f"/console/handoffs/{b_handoff.id}{suffix}"
            if method == "get":
                return a_console.get(path).status_code
            return a_console.post(path, data or {}, csrf_from="/console/").status_code

        return attempt

    def a_pages_show_nothing_of_b(path: str) -> Callable[[], int]:
        def attempt() -> int:
            page = a_console.get(path).text
            assert (
                "school fees" not in page
                and "admin@b.example" not in page
                and "talk to an agent" not in page
            )
            return 403

        return attempt

    def forged_account_link(path: str) -> Callable[[], int]:
        def attempt() -> int:
            # A link for B's first account, signed by someone without the server's secret.
            token = URLSafeTimedSerializer("not-the-secret", salt="imaradesk-reset").dumps(
                {"a": 1, "h": "x"}
            )
            assert requests.get(f"{base}{path}/{token}", timeout=10).status_code == 400
            return 404

        return attempt

    def public_page(path: str) -> Callable[[], int]:
        def attempt() -> int:
            page = requests.get(f"{base}{path}", timeout=10).text
            assert "school fees" not in page and "org-b" not in page
            return 403

        return attempt

    def webchat_poll() -> int:
        return refused(
            requests.get(
                f"{base}/channels/webchat/org-b/messages",
                params={"sender": "+254700000001", "after": 0},
                headers=a_bearer,
                timeout=10,
            )
        )

    # B's knowledge: a document with its job, a hand-written entry, an API token.
    b_job = services.ingestion.submit(
        org_b.id, "b-handbook.csv", b"question,answer\nWhen is half term?,In October.\n"
    )
    services.jobs.wait(timeout=60)
    b_entry = services.curation.entries(org_b.id, source="b-handbook.csv").entries[0]
    b_token = services.api_tokens.issue(org_b.id, "b tool")
    a_api = requests.Session()
    a_api.headers["Authorization"] = f"Bearer {services.api_tokens.issue(org_a.id, 'a').secret}"

    def api_call(method: str, path: str, **kwargs: object) -> Callable[[], int]:
        def attempt() -> int:
            response = a_api.request(method, f"{base}/api/v1{path}", timeout=10, **kwargs)
            assert "half term" not in response.text and "b-handbook" not in response.text
            return 404 if response.status_code in (200, 202) else response.status_code

        return attempt

    def b_knowledge(path: str, method: str = "get", data: dict | None = None) -> Callable[[], int]:
        def attempt() -> int:
            url = f"/console/knowledge{path}"
            if method == "get":
                response = a_console.get(url)
            else:
                response = a_console.post(url, data or {}, csrf_from="/console/knowledge")
            assert "half term" not in response.text and "b-handbook" not in response.text
            return 404 if response.status_code == 200 else response.status_code

        return attempt

    def token_for_a() -> int:
        page = a_console.post(
            "/console/knowledge/tokens", {"name": "a tool"}, csrf_from="/console/knowledge"
        ).text
        secret = page.split('<code id="token">')[1].split("<")[0]
        assert services.api_tokens.authenticate(secret) == org_a.id, "a token opens its own org"
        return 403

    def channels_of_a(path: str, data: dict | None = None) -> Callable[[], int]:
        """The channels forms name no organization: they change only the admin's own."""

        def attempt() -> int:
            def meta_of_b() -> tuple:
                b = services.organizations.get(org_b.id)
                assert b is not None
                return (b.meta_phone_number_id, b.meta_access_token, b.fetch_media)

            before = meta_of_b()
            if data is None:
                page = a_console.get(path).text
                assert "org-b" not in page and "Org-B" not in page
            else:
                a_console.post(path, data, csrf_from="/console/channels")
            assert meta_of_b() == before
            return 403

        return attempt

    def metrics() -> int:
        # Service-wide figures for the operator (loopback): labelled by endpoint, never by org.
        body = requests.get(f"{base}/metrics", timeout=10).text
        assert "org-b" not in body and "org-a" not in body
        return 403

    def tuning_for_a() -> int:
        # The form names no organization: it can only change the admin's own.
        before = services.organizations.get(org_b.id)
        assert before is not None
        a_console.post(
            "/console/knowledge/tuning", {"tuning_opt_in": "on"}, csrf_from="/console/knowledge"
        )
        after = services.organizations.get(org_b.id)
        assert after is not None
        assert (after.tuning_opt_in, after.kb_revision) == (
            before.tuning_opt_in,
            before.kb_revision,
        )
        own = services.organizations.get(org_a.id)
        assert own is not None and own.tuning_opt_in, "the admin's own organization changed"
        return 403

    def openapi() -> int:
        document = requests.get(f"{base}/api/v1/openapi.json", timeout=10).text
        assert "org-b" not in document and "half term" not in document
        return 403

    def logout() -> int:
        session = ConsoleSession(base)
        session.login("admin@a.example", "password of a!")
        assert session.post("/console/logout", csrf_from="/console/").status_code == 200
        return 403

    def chat_page() -> int:
        page = requests.get(f"{base}/chat/org-b", timeout=10).text
        assert "Org-B" in page and "Org-A" not in page
        return 403

    def widget_words() -> int:
        body = requests.get(f"{base}/channels/webchat/org-b/widget", timeout=10).json()
        assert body["organization"] == "Org-B" and "Org-A" not in str(body)
        return 403

    def home() -> int:
        assert requests.get(base, timeout=10).status_code == 200
        return 403

    matrix = {
        "webchat.page": chat_page,
        "health.home": home,
        "webchat.poll": webchat_poll,
        "webchat.history": webchat_history,
        "webchat.widget": widget_words,
        "webchat.visitor_token": webchat_visitor_token,
        "static": public_page("/static/console.css"),
        "console.login": public_page("/console/login"),
        "console.logout": logout,
        "console.signup": public_page("/console/signup"),
        "console.reset_request": public_page("/console/reset"),
        "console.verify": forged_account_link("/console/verify"),
        "console.reset_form": forged_account_link("/console/reset"),
        "console.inbox": a_pages_show_nothing_of_b("/console/"),
        "console.inbox_rows": a_pages_show_nothing_of_b("/console/inbox/rows"),
        "console.team": a_pages_show_nothing_of_b("/console/team"),
        "knowledge.page": b_knowledge(""),
        "knowledge.documents": b_knowledge("/documents"),
        "knowledge.delete_document": b_knowledge(f"/documents/{b_job.document_id}/delete", "post"),
        "knowledge.new_entry": b_knowledge("/entries/new"),
        "knowledge.edit_entry": b_knowledge(f"/entries/{b_entry.id}"),
        "knowledge.toggle_entry": b_knowledge(f"/entries/{b_entry.id}/toggle", "post"),
        "knowledge.delete_entry": b_knowledge(f"/entries/{b_entry.id}/delete", "post"),
        "knowledge.try_question": b_knowledge("/try", "post", {"question": "When is half term?"}),
        "knowledge.unanswered": b_knowledge("/unanswered"),
        "knowledge.create_token": token_for_a,
        "knowledge.revoke_token": b_knowledge(f"/tokens/{b_token.id}/revoke", "post"),
        "knowledge.set_tuning": tuning_for_a,
        "openapi_document": openapi,
        "api.list_documents": api_call("GET", "/documents"),
        "api.upload_document": lambda: 404,  # uploads only ever go to the token's own org
        "api.get_document": api_call("GET", f"/documents/{b_job.document_id}"),
        "api.delete_document": api_call("DELETE", f"/documents/{b_job.document_id}"),
        "api.get_job": api_call("GET", f"/jobs/{b_job.id}"),
        "api.list_entries": api_call("GET", "/entries", params={"q": "half term"}),
        "api.create_entry": lambda: 404,  # likewise: no org in the request to point elsewhere
        "api.get_entry": api_call("GET", f"/entries/{b_entry.id}"),
        "api.update_entry": api_call("PATCH", f"/entries/{b_entry.id}", json={"enabled": False}),
        "api.delete_entry": api_call("DELETE", f"/entries/{b_entry.id}"),
        "api.preview_answer": api_call("POST", "/answers/preview", json={"question": "half term"}),
        "api.unanswered": api_call("GET", "/unanswered"),
        "console.conversation": b_handoff_route(""),
        "console.conversation_messages": b_handoff_route("/messages"),
        "console.take": b_handoff_route("/take", "post"),
        "console.assign": b_handoff_route("/assign", "post", {"agent_id": "1"}),
        "console.resolve": b_handoff_route("/resolve", "post"),
        "console.reply": b_handoff_route("/reply", "post", {"text": "hello from A"}),
        "console.send_template": b_handoff_route("/template", "post", {"template_id": "1"}),
        "console.retry": b_handoff_route(f"/messages/{b_message.id}/retry", "post"),
        "console.translate_message": b_handoff_route(f"/messages/{b_message.id}/translate", "post"),
        "console.media": b_handoff_route(f"/messages/{b_message.id}/media/0"),
        "channels.page": channels_of_a("/console/channels"),
        "channels.meta": channels_of_a(
            "/console/channels/meta",
            {
                "phone_number_id": "1234567",
                "fetch_media": "on",
                "meta_app_secret": "x",
                "meta_access_token": "y",
                "meta_verify_token": "z",
            },
        ),  # fmt: skip
        "channels.meta_off": channels_of_a("/console/channels/meta/off", {}),
        "channels.sync_templates": channels_of_a("/console/channels/templates/sync", {}),
        "privacy.subject_export": subject_export,
        "twilio.inbound_message": twilio_inbound,
        "twilio.delivery_status": twilio_status,
        "meta.verify": meta_handshake,
        "meta.notification": meta_notification,
        "webchat.inbound_message": webchat,
        "rasa.webhook": rasa_webhook,
        "health.healthz": health,
        "metrics.metrics": metrics,
    }
    app_routes = {rule.endpoint for rule in server_app_rules(services)}
    assert app_routes == set(matrix), (
        f"routes without an isolation check: {app_routes - set(matrix)}"
    )
    for endpoint, attempt in matrix.items():
        assert attempt() in (403, 404), endpoint
    with database.read() as session:
        untouched = OrgData(session, org_b.id).handoff(b_handoff.id)
    assert (untouched.status, untouched.assigned_agent_id) == (
        b_handoff.status,
        b_handoff.assigned_agent_id,
    )
    # B's knowledge is as it was: the entry is on and answers, the token still works.
    assert services.curation.entry(org_b.id, b_entry.id).enabled
    assert services.ingestion.document(org_b.id, b_job.document_id) is not None
    assert services.api_tokens.authenticate(b_token.secret) == org_b.id
    # Nothing of B was written: A's visitor token opened none of B's channels.
    assert snapshot(database, org_b.id) == before


def server_app_rules(services):
    from imaradesk.app import create_app

    return list(create_app(services=services).url_map.iter_rules())

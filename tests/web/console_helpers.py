"""A console world for tests: an organization with Twilio sending, agents, routing rules, a
local Twilio API and SMTP server, all on loopback; and a signed-in browser-like session."""

from __future__ import annotations

import re
from dataclasses import dataclass

import requests

from imaradesk.console.setup import DeskSetup
from imaradesk.services import Services
from imaradesk.storage.models import Organization
from tests.fakes.smtp import LocalSmtp
from tests.fakes.twilio_api import FakeTwilioApi
from tests.helpers import TWILIO_ACCOUNT_SID, post_signed, seed_org, twilio_form

ACCOUNT_SID = TWILIO_ACCOUNT_SID  # the account twilio_form signs for
AUTH_TOKEN = "test-auth-token"
SENDER = "whatsapp:+14155238886"
PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class ConsoleWorld:
    services: Services
    url: str
    twilio: FakeTwilioApi
    smtp: LocalSmtp
    org: Organization

    def customer_says(
        self, text: str, *, phone: str = "+254711000111", org: str = "acme", **extra: str
    ) -> list[str]:
        from xml.etree import ElementTree

        response = post_signed(
            f"{self.url}/channels/twilio/{org}/messages",
            twilio_form(body=text, sender=f"whatsapp:{phone}", **extra),
        )
        assert response.status_code == 200, response.text
        return [m.text or "" for m in ElementTree.fromstring(response.text).findall("Message")]

    def login(self, email: str, password: str = PASSWORD) -> ConsoleSession:
        session = ConsoleSession(self.url)
        response = session.login(email, password)
        assert response.status_code == 200, response.text[:500]
        assert "Sign out" in response.text
        return session


class ConsoleSession:
    def __init__(self, url: str) -> None:
        self.url = url
        self.http = requests.Session()

    def get(self, path: str, **kwargs: object) -> requests.Response:
        return self.http.get(f"{self.url}{path}", timeout=15, **kwargs)  # type: ignore[arg-type]

    def csrf(self, path: str = "/console/login") -> str:
        match = _CSRF.search(self.get(path).text)
        assert match, f"no CSRF token on {path}"
        return match.group(1)

    def post(
        self, path: str, data: dict | None = None, *, csrf_from: str | None = None, **kwargs: object
    ) -> requests.Response:
        form = dict(data or {})
        if csrf_from is not None or "csrf_token" not in form:
            form.setdefault("csrf_token", self.csrf(csrf_from or "/console/"))
        return self.http.post(f"{self.url}{path}", data=form, timeout=30, **kwargs)  # type: ignore[arg-type]

    def login(self, email: str, password: str) -> requests.Response:
        token = self.csrf("/console/login")
        return self.http.post(
            f"{self.url}/console/login",
            data={"email": email, "password": password, "csrf_token": token},
            timeout=15,
        )


def build_world(make_services, live_server_factory, database, **settings) -> ConsoleWorld:
    twilio = FakeTwilioApi(ACCOUNT_SID, AUTH_TOKEN).start()
    smtp = LocalSmtp().start()
    services = make_services(
        database,
        twilio_api_base_url=twilio.url,
        smtp_port=smtp.port,
        **settings,
    )
    org = seed_org(services, "acme")
    services.organizations.update(org.id, twilio_account_sid=ACCOUNT_SID, whatsapp_sender=SENDER)
    setup = DeskSetup(services.database)
    setup.add_topic_rule(
        org.id,
        topic="fraud",
        keywords=["fraud", "scam", "hacked", "utapeli"],
        team="Security",
        priority=1,
        always_human=True,
    )
    setup.add_topic_rule(
        org.id,
        topic="lost money",
        keywords=["money is missing", "pesa imepotea", "not received"],
        team="Payments",
        priority=1,
    )
    setup.add_language_rule(org.id, language="sw", team="Swahili desk")
    accounts = services.accounts
    accounts.create(
        org.id,
        email="amina@acme.example",
        name="Amina",
        role="agent",
        team="Payments",
        languages=["en", "sw"],
        password=PASSWORD,
        verified=True,
    )
    accounts.create(
        org.id,
        email="brian@acme.example",
        name="Brian",
        role="agent",
        team="Security",
        languages=["en"],
        password=PASSWORD,
        verified=True,
    )
    accounts.create(
        org.id,
        email="chebet@acme.example",
        name="Chebet",
        role="admin",
        team="Swahili desk",
        languages=["sw", "en"],
        password=PASSWORD,
        verified=True,
    )
    accounts.create(
        org.id,
        email="kim@acme.example",
        name="Kim",
        role="knowledge_manager",
        password=PASSWORD,
        verified=True,
    )
    server = live_server_factory(services)
    return ConsoleWorld(services, server.url, twilio, smtp, services.organizations.by_slug("acme"))

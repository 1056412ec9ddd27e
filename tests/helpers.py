"""Test helpers: seeding organizations, a transcript-style chat, signed Twilio requests."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import requests
from twilio.request_validator import RequestValidator

from imaradesk.channels.messages import InboundMessage, OutboundMessage, Turn
from imaradesk.knowledge_index.documents import parse_csv, parse_markdown
from imaradesk.knowledge_index.embedder import HashingEmbedder
from imaradesk.services import Services
from imaradesk.storage.models import Organization

WALLET_FAQ = """id,category,question,answer
reset-pin,Security,How do I reset my PIN?,Dial *483*7# and follow the prompts to reset your PIN.
reset-pin,Security,I forgot my PIN,
send-money,Payments,How do I send money to another number?,Choose Send Money and enter the number and amount.
fees,Fees,How much does it cost to send money?,Sending up to KES 100 is free; above that see the tariff.
balance,Account,How do I check my balance?,Dial *483*1# to see your balance.
"""

SCHOOL_FAQ = """question,answer
When does the school term start?,Term one starts on the 6th of January.
How do I pay school fees?,Pay school fees through the bank paybill 123456.
"""

_sids = itertools.count(1)


class CountingEmbedder(HashingEmbedder):
    """A real (hashing) embedder that also records the texts it embedded."""

    def __init__(self) -> None:
        super().__init__()
        self.embedded: list[str] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.embedded.extend(texts)
        return super().embed(texts)


def next_sid(prefix: str = "SM") -> str:
    return f"{prefix}{next(_sids):032x}"


def seed_org(
    services: Services,
    slug: str,
    *,
    faq_csv: str | None = WALLET_FAQ,
    faq_md: str | None = None,
    twilio_auth_token: str | None = "test-auth-token",
    name: str | None = None,
) -> Organization:
    org = services.organizations.create(
        slug,
        name=name or slug.title(),
        twilio_auth_token=twilio_auth_token,
        privacy_policy_url=f"https://{slug}.example/privacy",
    )
    documents = []
    if faq_csv:
        documents.append(parse_csv(faq_csv.encode(), f"{slug}.csv"))
    if faq_md:
        documents.append(parse_markdown(faq_md.encode(), f"{slug}.md"))
    if documents:
        services.knowledge.import_documents(org.id, documents)  # type: ignore[arg-type]
    fresh = services.organizations.by_slug(slug)
    assert fresh is not None
    return fresh


@dataclass
class Chat:
    """A customer talking to the dialogue manager: ``chat.send("hi")`` returns the replies."""

    services: Services
    org_slug: str
    sender: str = "+254700000001"
    channel: str = "whatsapp"
    turns: list[Turn] = field(default_factory=list)

    def send(
        self, text: str = "", *, sid: str | None = None, **fields: object
    ) -> list[OutboundMessage]:
        return list(self.turn(text, sid=sid, **fields).replies)

    def turn(self, text: str = "", *, sid: str | None = None, **fields: object) -> Turn:
        org = self.services.organizations.by_slug(self.org_slug)
        assert org is not None
        inbound = InboundMessage(
            org_slug=self.org_slug,
            channel=self.channel,
            sender_id=self.sender,
            provider_message_id=sid or next_sid(),
            received_at=self.services.clock.now(),
            text=text,
            **fields,  # type: ignore[arg-type]
        )
        turn = self.services.dialogue.handle(org, inbound)
        self.turns.append(turn)
        return turn

    def texts(self, text: str) -> list[str]:
        return [r.text for r in self.send(text)]


# The Twilio account every test organization's signed requests come from.
TWILIO_ACCOUNT_SID = "AC" + "0" * 32


def twilio_form(
    *,
    body: str,
    sender: str = "whatsapp:+254700000001",
    sid: str | None = None,
    to: str = "whatsapp:+14155238886",
    **extra: str,
) -> dict[str, str]:
    form = {
        "SmsMessageSid": sid or next_sid(),
        "NumMedia": "0",
        "ProfileName": "Wanjiru",
        "WaId": sender.split("+")[-1],
        "SmsStatus": "received",
        "Body": body,
        "To": to,
        "NumSegments": "1",
        "ReferralNumMedia": "0",
        "MessageSid": "",
        "AccountSid": TWILIO_ACCOUNT_SID,
        "From": sender,
        "ApiVersion": "2010-04-01",
    }
    form["MessageSid"] = form["SmsMessageSid"]
    form.update(extra)
    return form


def post_signed(
    url: str,
    form: dict[str, str],
    *,
    token: str = "test-auth-token",
    sign_url: str | None = None,
    **kwargs: object,
) -> requests.Response:
    """POST form-encoded as Twilio does, signed by twilio's own RequestValidator."""
    signature = RequestValidator(token).compute_signature(sign_url or url, form)
    headers = {"X-Twilio-Signature": signature, **kwargs.pop("headers", {})}  # type: ignore[dict-item]
    return requests.post(url, data=form, headers=headers, timeout=30, **kwargs)  # type: ignore[arg-type]


def sqlite_file_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    wal = Path(str(path) + "-wal")
    return data + (wal.read_bytes() if wal.exists() else b"")


@dataclass
class WebVisitor:
    """A web-chat visitor on a live server: it asks for its token first, as the widget does."""

    base_url: str
    org: str
    token: str = ""

    def __post_init__(self) -> None:
        if not self.token:
            response = requests.post(self.url("visitors"), timeout=10)
            assert response.status_code == 201, response.text
            self.token = response.json()["token"]

    def url(self, endpoint: str = "messages") -> str:
        return f"{self.base_url}/channels/webchat/{self.org}/{endpoint}"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def send(self, text: str, *, timeout: float = 30, **fields: object) -> requests.Response:
        return requests.post(
            self.url(), json={"text": text, **fields}, headers=self.headers, timeout=timeout
        )

    def replies(self, text: str, **fields: object) -> list[dict]:
        response = self.send(text, **fields)
        assert response.status_code == 200, response.text
        return response.json()["replies"]

    def poll(self, after: int = 0) -> list[dict]:
        response = requests.get(
            self.url(), params={"after": after}, headers=self.headers, timeout=10
        )
        assert response.status_code == 200, response.text
        return response.json()["messages"]

    def history(self) -> list[dict]:
        response = requests.get(self.url("history"), headers=self.headers, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()["messages"]

"""Access and portability: everything held about one contact, as JSON and as a readable page,
behind a short-lived signed link (never a guessable URL).

Links are dated by the injected clock, not the system's, so expiry is tested by moving a frozen
clock rather than by waiting.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from jinja2 import Environment, PackageLoader

from imaradesk.runtime.clock import Clock
from imaradesk.runtime.i18n import N_, N_plural, catalog, supported, translate, translate_plural
from imaradesk.runtime.signing import ClockedSigner
from imaradesk.storage.compliance_repository import ComplianceData
from imaradesk.storage.encryption import Keystore

_SALT = "imaradesk-subject-export"


class ExportLinkInvalid(Exception):
    pass


class ExportLinkExpired(ExportLinkInvalid):
    pass


@dataclass(frozen=True)
class ExportFile:
    org_id: int
    contact_id: int
    file_id: str
    path: Path


def collect(data: ComplianceData, contact_id: int) -> dict[str, Any]:
    """Everything this organization holds about one contact."""
    contact = data.contact(contact_id)
    if contact is None:
        raise LookupError(f"contact {contact_id} not found")
    org = data.organization()

    def when(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "organization": org.name,
        "generated_for": contact.address,
        "contact": {
            "channel": contact.channel,
            "address": contact.address,
            "also_known_as": contact.alias,
            "name": contact.display_name,
            "email": contact.email,
            "preferred_language": contact.preferred_language,
            "first_seen": when(contact.created_at),
            "opted_out": contact.opted_out,
            "processing_restricted": contact.restricted,
            "retained_until": when(contact.retain_until),
        },
        "consent_history": [
            {
                "action": r.action,
                "purpose": r.purpose,
                "channel": r.channel,
                "notice_version": r.notice_version,
                "how": r.method,
                "at": when(r.created_at),
            }
            for r in data.consent_history(contact_id)
        ],
        "messages": [
            {
                "at": when(m.created_at),
                "direction": m.direction,
                "text": m.body,
                "kind": m.kind,
                "media": m.media,
                "lawful_basis": m.lawful_basis,
                "retained_until": when(m.retain_until),
            }
            for m in data.messages_of_contact(contact_id)
        ],
        "handoffs": [
            {
                "reason": h.reason,
                "status": h.status,
                "opened": when(h.created_at),
                "resolved": when(h.resolved_at),
                "rating": h.rating,
            }
            for h in data.handoffs_of(contact_id)
        ],
        "privacy_requests": [
            {
                "right": r.right,
                "status": r.status,
                "received": when(r.received_at),
                "completed": when(r.completed_at),
            }
            for r in data.requests_of(contact_id)
        ],
    }


MESSAGES_SINCE = N_plural("{count} message since {date}", "{count} messages since {date}")
MESSAGES = N_plural("{count} message", "{count} messages")
CONSENT_GIVEN = N_("consent given on {date} (notice v{version})")
CONSENT_WITHDRAWN = N_("consent withdrawn on {date} (notice v{version})")
CONVERSATIONS = N_plural(
    "{count} conversation with our team", "{count} conversations with our team"
)


@dataclass(frozen=True)
class ExportSummary:
    """The export in a sentence: what the chat says with the link, in the customer's words."""

    messages: int
    first_message_on: str | None
    consent_action: str | None
    consent_on: str | None
    notice_version: int | None
    conversations_with_team: int

    @classmethod
    def of(cls, export: dict[str, Any]) -> ExportSummary:
        messages, consents = export["messages"], export["consent_history"]
        last = consents[-1] if consents else None
        return cls(
            messages=len(messages),
            first_message_on=messages[0]["at"][:10] if messages else None,
            consent_action=str(last["action"]) if last else None,
            consent_on=last["at"][:10] if last else None,
            notice_version=int(last["notice_version"]) if last else None,
            conversations_with_team=len(export["handoffs"]),
        )

    def text(self, language: str = "en") -> str:
        if self.first_message_on is not None:
            parts = [
                translate_plural(
                    language, MESSAGES_SINCE, self.messages, date=self.first_message_on
                )
            ]
        else:
            parts = [translate_plural(language, MESSAGES, self.messages)]
        if self.consent_action is not None:
            given = self.consent_action == "granted"
            parts.append(
                translate(
                    language,
                    CONSENT_GIVEN if given else CONSENT_WITHDRAWN,
                    date=self.consent_on,
                    version=self.notice_version,
                )
            )
        parts.append(translate_plural(language, CONVERSATIONS, self.conversations_with_team))
        return ", ".join(parts)


def summary_text(export: dict[str, Any], language: str = "en") -> str:
    return ExportSummary.of(export).text(language)


@cache
def _templates(language: str) -> Environment:
    """The export page's templates, with their words in ``language``."""
    env = Environment(
        loader=PackageLoader("imaradesk", "templates"),
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_translations(catalog(language), newstyle=True)  # type: ignore[attr-defined]
    return env


def render_html(export: dict[str, Any]) -> str:
    """The readable page, in the language the customer prefers (English when none)."""
    language = supported(export["contact"].get("preferred_language"))
    template = _templates(language).get_template("privacy/subject_export.html")
    return template.render(export=export, summary=summary_text(export, language), language=language)


class SubjectExports:
    """Writes sealed export files and signs links to them."""

    def __init__(
        self, *, directory: Path, keystore: Keystore, secret: str, ttl_seconds: int, clock: Clock
    ) -> None:
        self._dir = directory
        self._keystore = keystore
        self._clock = clock
        self._signer = URLSafeTimedSerializer(
            secret, salt=_SALT, signer=ClockedSigner, signer_kwargs={"clock": clock}
        )
        self.ttl_seconds = ttl_seconds

    def write(self, org_id: int, contact_id: int, export: dict[str, Any]) -> str:
        """Store the export sealed with the organization's key; return the signed token."""
        file_id = secrets.token_urlsafe(16)
        path = self._path(org_id, contact_id, file_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        sealed = self._keystore.seal_bytes(
            org_id, json.dumps(export, ensure_ascii=False).encode(), "subject-export"
        )
        path.write_bytes(sealed)
        # Dated by our clock as well, so that the sweep and the link agree on the file's age.
        written = self._clock.now().timestamp()
        os.utime(path, (written, written))
        return self._signer.dumps({"o": org_id, "c": contact_id, "f": file_id})

    def read(self, token: str) -> tuple[int, dict[str, Any]]:
        try:
            claims = self._signer.loads(token, max_age=self.ttl_seconds)
        except SignatureExpired as e:
            raise ExportLinkExpired("this link has expired") from e
        except BadSignature as e:
            raise ExportLinkInvalid("this link is not valid") from e
        path = self._path(int(claims["o"]), int(claims["c"]), str(claims["f"]))
        if not path.exists():
            raise ExportLinkExpired("this export no longer exists")
        data = self._keystore.open_bytes(int(claims["o"]), path.read_bytes(), "subject-export")
        return int(claims["o"]), json.loads(data)

    def erase_subject(self, org_id: int, contact_id: int) -> int:
        removed = 0
        for path in (self._dir / f"org-{org_id}" / f"contact-{contact_id}").glob("*.json.sealed"):
            path.unlink(missing_ok=True)
            removed += 1
        return removed

    def erase_organization(self, org_id: int) -> None:
        shutil.rmtree(self._dir / f"org-{org_id}", ignore_errors=True)

    def sweep(self, now: datetime) -> int:
        """Remove exports whose links have expired."""
        removed = 0
        for path in self._dir.glob("org-*/contact-*/*.json.sealed"):
            if now.timestamp() - path.stat().st_mtime > self.ttl_seconds:
                path.unlink(missing_ok=True)
                removed += 1
        return removed

    def _path(self, org_id: int, contact_id: int, file_id: str) -> Path:
        if not file_id.replace("-", "").replace("_", "").isalnum():
            raise ExportLinkInvalid("this link is not valid")
        return self._dir / f"org-{org_id}" / f"contact-{contact_id}" / f"{file_id}.json.sealed"

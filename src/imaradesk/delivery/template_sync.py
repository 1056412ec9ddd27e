"""Bringing an organization's approved WhatsApp templates over from Meta.

Meta keeps a business's templates (name, language, components) and approves them; only
approved ones may go out after the 24-hour window. A sync makes the organization's Meta
templates exactly the approved list: new ones appear in the console, rejected or deleted ones
disappear, Twilio's Content SIDs stay as they are.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from imaradesk.channels.base import SendFailed, TemplateSource
from imaradesk.storage.models import Organization
from imaradesk.storage.templates_repository import TemplateFields, TemplatesRepository

log = logging.getLogger(__name__)

PROVIDER = "meta"  # the adapter's name: the conversations whose channel can send them
_MAX_REFERENCE = 64  # MessageTemplate.content_sid, Message.template_sid


class TemplateSyncError(Exception):
    pass


@dataclass(frozen=True)
class TemplateSyncReport:
    approved: int
    added: int
    updated: int
    removed: int
    skipped: int  # names too long to store (Meta allows 512 characters; we keep 64)


class TemplateSync:
    def __init__(self, *, source: TemplateSource, repository: TemplatesRepository) -> None:
        self._source = source
        self._repository = repository

    def sync(self, org: Organization) -> TemplateSyncReport:
        """Replace the organization's Meta templates with the approved ones.

        Raises:
            TemplateSyncError: the organization has no WABA id or token, or Meta refused.
        """
        assert org.id is not None
        if not (org.meta_waba_id and org.meta_access_token):
            raise TemplateSyncError(
                "set the WhatsApp Business Account id and the access token first"
            )
        try:
            approved = self._source.approved_templates(
                waba_id=org.meta_waba_id, access_token=org.meta_access_token
            )
        except SendFailed as e:
            raise TemplateSyncError(f"Meta did not list the templates (error {e.code}): {e}") from e
        fitting = [t for t in approved if len(t.reference) <= _MAX_REFERENCE]
        changes = self._repository.replace_provider_templates(
            org_id=org.id,
            provider=PROVIDER,
            templates=[TemplateFields(t.reference, t.name, t.body) for t in fitting],
        )
        log.info(
            "synced WhatsApp templates from Meta",
            extra={"org_id": org.id, "approved": len(approved), "added": changes.added},
        )
        return TemplateSyncReport(
            approved=len(approved),
            added=changes.added,
            updated=changes.updated,
            removed=changes.removed,
            skipped=len(approved) - len(fitting),
        )

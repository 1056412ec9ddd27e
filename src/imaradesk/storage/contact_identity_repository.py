"""A customer's identifiers on one channel: re-keying a contact and merging two into one.

Meta identifies a WhatsApp user by a business-scoped user id and, while they share it, by
phone; either may come first, and each may change. Merging moves every row that names the
contact (consent, conversations, messages, handoffs, privacy requests) to the one kept.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlmodel import SQLModel

from imaradesk.storage.models import (
    ConsentRecord,
    Contact,
    Conversation,
    Handoff,
    Message,
    PrivacyRequest,
)
from imaradesk.storage.repositories import OrgData
from imaradesk.storage.tables import table_of

# Every table with a contact_id: a merge that missed one would leave rows pointing at nobody.
_CONTACT_ROWS: tuple[type[SQLModel], ...] = (
    ConsentRecord,
    Conversation,
    Message,
    Handoff,
    PrivacyRequest,
)


class ContactIdentityData(OrgData):
    def set_identifiers(self, contact: Contact, *, address: str, alias: str | None) -> None:
        self._check_owned(contact)
        contact.address = address
        contact.address_hash = self.identity_hash(contact.channel, address)
        contact.alias = alias
        contact.alias_hash = self.identity_hash(contact.channel, alias) if alias else None
        self._session.add(contact)

    def merge(self, keep: Contact, other: Contact) -> None:
        """Move ``other``'s rows to ``keep`` and delete ``other``; the stricter of their
        protections wins (an opt-out, a restriction or a hold on either holds for both)."""
        self._check_owned(keep)
        self._check_owned(other)
        assert keep.id is not None and other.id is not None and keep.id != other.id
        for model in _CONTACT_ROWS:
            table = table_of(model)
            self._session.execute(
                update(table)
                .where(table.c.org_id == self.org_id, table.c.contact_id == other.id)
                .values(contact_id=keep.id)
            )
        for flag in ("opted_out", "restricted", "is_minor", "legal_hold"):
            setattr(keep, flag, getattr(keep, flag) or getattr(other, flag))
        for detail in ("display_name", "email", "preferred_language", "erasure_review_due"):
            if getattr(keep, detail) is None:
                setattr(keep, detail, getattr(other, detail))
        keep.created_at = min(keep.created_at, other.created_at)
        keep.retain_until = max(keep.retain_until, other.retain_until)
        self._session.add(keep)
        self._session.flush()  # the rows moved before the contact they named goes
        self._session.delete(other)
        # Gone now: the kept contact may take over its address (a unique key) next.
        self._session.flush()

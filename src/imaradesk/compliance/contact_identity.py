"""Keeping one contact per person when a channel's identifiers for them appear or change.

A WhatsApp user may first write with a phone number and later with a business-scoped user id
(BSUID), or the other way round; they may change number, and Meta then issues a new BSUID.
Each is reported before the turns of the same notification run, so those turns find the one
contact. A merge is recorded in the audit trail, never the identifiers themselves.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from imaradesk.channels.messages import IdentityChange, IdentityLink
from imaradesk.channels.meta import is_bsuid
from imaradesk.policies.retention import retain_until
from imaradesk.runtime.clock import Clock
from imaradesk.storage.compliance_repository import ComplianceData
from imaradesk.storage.contact_identity_repository import ContactIdentityData
from imaradesk.storage.conversation_state import ConversationStateStore
from imaradesk.storage.db import Database
from imaradesk.storage.errors import DuplicateRecord
from imaradesk.storage.models import Contact, Organization

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IdentityOutcome:
    contact_id: int | None  # None: no contact had either identifier, nothing to do
    merged_contact_id: int | None = None
    changed: bool = False


class ContactIdentities:
    def __init__(self, *, database: Database, state: ConversationStateStore, clock: Clock) -> None:
        self._db = database
        self._state = state
        self._clock = clock

    def apply(self, org: Organization, event: IdentityLink | IdentityChange) -> IdentityOutcome:
        assert org.id is not None
        if isinstance(event, IdentityLink) and self._already_linked(org.id, event):
            return IdentityOutcome(contact_id=None)  # the common case: one read, no write
        try:
            with self._db.write() as session:
                data = ContactIdentityData(session, org.id)
                if isinstance(event, IdentityLink):
                    outcome = self._link(data, event)
                else:
                    outcome = self._change(data, event)
                if outcome.merged_contact_id is not None:
                    now = self._clock.now()
                    ComplianceData(session, org.id).audit(
                        actor="channel",
                        action="contacts_merged",
                        subject=f"contact:{outcome.contact_id}",
                        note=f"contact {outcome.merged_contact_id} was the same person",
                        now=now,
                        retain_until=retain_until(now, org.audit_retention_days),
                    )
        except DuplicateRecord:
            # Another delivery of the same notification linked them first (or created the
            # contact in between): its turn finds the contact either way.
            log.info("identifiers linked concurrently", extra={"org_id": org.id})
            return IdentityOutcome(contact_id=None)
        if outcome.merged_contact_id is not None:
            self._state.erase_subject(org.id, outcome.merged_contact_id)
            log.info("merged two contacts of one customer", extra={"org_id": org.id})
        return outcome

    def _already_linked(self, org_id: int, link: IdentityLink) -> bool:
        with self._db.read() as session:
            data = ContactIdentityData(session, org_id)
            by_address = data.find_contact(link.channel, link.address)
            by_alias = data.find_contact(link.channel, link.alias)
            if by_address is None:
                return by_alias is None  # a new customer: their first turn stores both
            return (
                by_alias is not None
                and by_alias.id == by_address.id
                and by_address.address_hash == data.identity_hash(link.channel, link.address)
            )

    @staticmethod
    def _link(data: ContactIdentityData, link: IdentityLink) -> IdentityOutcome:
        by_address = data.find_contact(link.channel, link.address)
        by_alias = data.find_contact(link.channel, link.alias)
        if by_alias is not None and by_alias.address != link.address and is_bsuid(by_alias.address):
            # The phone belongs to another user id: a number given up and given to someone
            # else without Meta telling us. Two people: the phone leaves the old contact,
            # and nothing of theirs is shown to the new one.
            data.set_identifiers(by_alias, address=by_alias.address, alias=None)
            if by_address is None:
                return IdentityOutcome(contact_id=None, changed=True)
            by_alias = None
        keep, merged = _keep_and_other(by_address, by_alias)
        if keep is None:
            return IdentityOutcome(contact_id=None)
        if merged is not None:
            data.merge(keep, merged)
        data.set_identifiers(keep, address=link.address, alias=link.alias)
        return IdentityOutcome(keep.id, merged.id if merged else None, changed=True)

    @staticmethod
    def _change(data: ContactIdentityData, change: IdentityChange) -> IdentityOutcome:
        old = data.find_contact(change.channel, change.old)
        if old is None:
            return IdentityOutcome(contact_id=None)
        new = data.find_contact(change.channel, change.new)
        keep, merged = (new, old) if new is not None and new.id != old.id else (old, None)
        assert keep is not None
        if merged is not None:
            data.merge(keep, merged)
        old_hash = data.identity_hash(change.channel, change.old)
        address, alias = keep.address, keep.alias
        if keep.address_hash == old_hash:
            address = change.new
        elif keep.alias_hash == old_hash:
            alias = change.new
        if alias == address:
            alias = None
        data.set_identifiers(keep, address=address, alias=alias)
        return IdentityOutcome(keep.id, merged.id if merged else None, changed=True)


def _keep_and_other(
    by_address: Contact | None, by_alias: Contact | None
) -> tuple[Contact | None, Contact | None]:
    """The contact to keep and the one to merge into it: the older one is kept, so its id
    (which exports, handoffs and audit records name) survives."""
    if by_address is None or by_alias is None or by_address.id == by_alias.id:
        return by_address or by_alias, None
    assert by_address.id is not None and by_alias.id is not None
    return (by_address, by_alias) if by_address.id < by_alias.id else (by_alias, by_address)

"""Stage 1 of a turn: what we already know of the sender, or that the message was handled.

One read transaction, on every message: the contact, its consent in force, its current
conversation and conversation state; for an unknown sender, the erasure tombstones of the same
identity, so that a replayed webhook of an erased contact cannot bring them back.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from imaradesk.channels.messages import (
    InboundMessage,
    OutboundMessage,
    Outcome,
    ReplyKind,
    ReplyOption,
    Source,
    Turn,
)
from imaradesk.compliance.desk import PrivacyDesk
from imaradesk.storage.compliance_repository import ComplianceData
from imaradesk.storage.conversation_state import ConversationStateStore
from imaradesk.storage.db import Database
from imaradesk.storage.models import (
    ConsentRecord,
    Contact,
    Conversation,
    ConversationStatus,
    Direction,
    Message,
    Organization,
)
from imaradesk.storage.repositories import OrgData

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Observation:
    """What the database said about the sender before the turn was decided."""

    contact: Contact | None
    latest_consent: ConsentRecord | None
    conversation: Conversation | None
    state: Mapping[str, str] = field(default_factory=dict)

    @property
    def contact_id(self) -> int | None:
        return self.contact.id if self.contact is not None else None

    @property
    def human_owns_conversation(self) -> bool:
        return (
            self.conversation is not None and self.conversation.status == ConversationStatus.HANDOFF
        )


class Observer:
    def __init__(
        self, *, database: Database, state: ConversationStateStore, privacy: PrivacyDesk
    ) -> None:
        self._db = database
        self._state = state
        self._privacy = privacy

    def observe(self, org: Organization, inbound: InboundMessage) -> Observation | Turn:
        """The sender as we know them, or the stored turn if this message was handled before."""
        assert org.id is not None
        with self._db.read() as session:
            data = ComplianceData(session, org.id)
            contact = data.find_contact(inbound.channel, inbound.sender_id)
            if contact is None or contact.id is None:
                tombstones = data.tombstones_for(
                    data.identity_hash(inbound.channel, inbound.sender_id)
                )
                erased = self._privacy.is_replay_of_erased(
                    org,
                    tombstones=tombstones,
                    channel=inbound.channel,
                    provider_message_id=inbound.provider_message_id,
                )
                if erased or _delivered_before(data, inbound):
                    log.info(
                        "ignored a replay of an erased contact's message", extra={"org_id": org.id}
                    )
                    return _ALREADY_HANDLED
                return Observation(None, None, None)
            replay = stored_turn(data, inbound, contact.id)
            if replay is not None:
                return replay
            if _delivered_before(data, inbound):
                # Its message is gone (retention, or an agent's deletion) but not its key.
                log.info("ignored a redelivery of an expired message", extra={"org_id": org.id})
                return _ALREADY_HANDLED
            latest, conversation = (
                data.latest_consent(contact.id),
                data.current_conversation(contact.id),
            )
        return Observation(contact, latest, conversation, self._state.get(org.id, contact.id))

    def replay(self, org: Organization, inbound: InboundMessage) -> Turn | None:
        """The stored turn of this message, if another process stored it meanwhile."""
        assert org.id is not None
        with self._db.read() as session:
            data = OrgData(session, org.id)
            contact = data.find_contact(inbound.channel, inbound.sender_id)
            if contact is None or contact.id is None:
                return None
            return stored_turn(data, inbound, contact.id)


# A delivery handled before whose messages no longer exist: nothing to repeat, nothing to do.
_ALREADY_HANDLED = Turn(replies=(), inbound_message_id=None, duplicate=True)


def _delivered_before(data: OrgData, inbound: InboundMessage) -> bool:
    return data.delivery_seen(
        data.delivery_key(inbound.channel, inbound.sender_id, inbound.provider_message_id)
    )


def stored_turn(data: OrgData, inbound: InboundMessage, contact_id: int) -> Turn | None:
    """The stored turn of this sender's message with this provider id, if any."""
    existing = data.find_message(
        channel=inbound.channel,
        direction=Direction.INBOUND,
        provider_message_id=inbound.provider_message_id,
        contact_id=contact_id,
    )
    if existing is None or existing.id is None:
        return None
    replies = tuple(outbound_from_row(m) for m in data.replies_to(existing.id))
    return Turn(replies=replies, inbound_message_id=existing.id, duplicate=True)


def outbound_from_row(row: Message) -> OutboundMessage:
    sources = tuple(
        Source(int(s["entry_id"]), str(s["external_id"]), str(s["question"]), float(s["score"]))
        for s in row.sources
    )
    outcome = Outcome(row.outcome) if row.outcome else None
    return OutboundMessage(
        row.body, ReplyKind(row.kind), sources, row.handoff, row.id, outcome, options_of(row)
    )


def options_of(row: Message) -> tuple[ReplyOption, ...]:
    return tuple(ReplyOption(str(o["id"]), str(o["title"])) for o in row.options or ())

"""The rows one turn of the dialogue writes, in its one write transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from imaradesk.storage.models import (
    Contact,
    Conversation,
    ConversationStatus,
    DeliveryKey,
    Direction,
    Handoff,
    LawfulBasis,
    Message,
)
from imaradesk.storage.repositories import OrgData


@dataclass(frozen=True)
class HandoffRoute:
    """Where the router sent a handoff, and why."""

    topic: str | None
    language: str | None
    sentiment: float | None
    urgency: str
    priority: int
    team_id: int | None
    assigned_agent_id: int | None
    routing_reasons: tuple[str, ...]
    summary: str | None
    suggested_entry_ids: tuple[int, ...]


# A handoff nobody routed: the organization's queue, as the columns' defaults say.
UNROUTED = HandoffRoute(
    topic=None,
    language=None,
    sentiment=None,
    urgency="normal",
    priority=0,
    team_id=None,
    assigned_agent_id=None,
    routing_reasons=(),
    summary=None,
    suggested_entry_ids=(),
)


class TurnData(OrgData):
    def refresh_contact(
        self, contact: Contact, *, retain_until: datetime, display_name: str | None
    ) -> None:
        """A returning contact: keep them as long as their newest message, under their new name."""
        self._check_owned(contact)
        contact.retain_until = max(contact.retain_until, retain_until)
        if display_name and display_name != contact.display_name:
            contact.display_name = display_name
        self._session.add(contact)

    def set_opted_out(self, contact: Contact, opted_out: bool) -> None:
        self._check_owned(contact)
        contact.opted_out = opted_out
        self._session.add(contact)

    def touch_conversation(
        self, conversation: Conversation, *, now: datetime, retain_until: datetime
    ) -> None:
        self._check_owned(conversation)
        conversation.last_message_at = now
        conversation.retain_until = max(conversation.retain_until, retain_until)
        self._session.add(conversation)

    def add_inbound(
        self,
        *,
        conversation_id: int,
        contact_id: int,
        channel: str,
        provider_message_id: str,
        kind: str,
        body: str,
        media: list[dict[str, Any]],
        button_payload: str | None,
        ai_processed: bool,
        consent_record_id: int | None,
        lawful_basis: LawfulBasis,
        created_at: datetime,
        retain_until: datetime,
        legal_hold: bool,
        delivery_key: tuple[str, datetime] | None = None,
    ) -> Message:
        """Store the customer's message now: its unique provider id, and its delivery key
        (hash, expiry; it outlives the message), refuse a second delivery."""
        if delivery_key is not None:
            key_hash, expires_at = delivery_key
            self._session.add(
                DeliveryKey(org_id=self.org_id, key_hash=key_hash, expires_at=expires_at)
            )
        message = Message(
            org_id=self.org_id,
            conversation_id=conversation_id,
            contact_id=contact_id,
            direction=Direction.INBOUND,
            channel=channel,
            provider_message_id=provider_message_id,
            kind=kind,
            body=body,
            media=media,
            button_payload=button_payload,
            ai_processed=ai_processed,
            consent_record_id=consent_record_id,
            lawful_basis=lawful_basis,
            created_at=created_at,
            retain_until=retain_until,
            legal_hold=legal_hold,
        )
        self._session.add(message)
        self._session.flush()
        return message

    def add_bot_reply(
        self,
        *,
        inbound: Message,
        position: int,
        kind: str,
        body: str,
        outcome: str,
        handoff_reason: str | None,
        sources: list[dict[str, Any]],
        handoff: bool,
        lawful_basis: LawfulBasis,
        created_at: datetime,
        options: list[dict[str, str]] | None = None,
    ) -> Message:
        """Add a reply to ``inbound``; inserted (and given its id) at the next flush."""
        assert inbound.id is not None
        best = sources[0] if sources else None
        message = Message(
            org_id=self.org_id,
            conversation_id=inbound.conversation_id,
            contact_id=inbound.contact_id,
            direction=Direction.OUTBOUND,
            channel=inbound.channel,
            reply_to_id=inbound.id,
            position=position,
            kind=kind,
            body=body,
            outcome=outcome,
            handoff_reason=handoff_reason,
            sources=sources,
            options=options or [],
            answer_entry_id=int(best["entry_id"]) if best else None,
            answer_score=float(best["score"]) if best else None,
            handoff=handoff,
            consent_record_id=inbound.consent_record_id,
            lawful_basis=lawful_basis,
            created_at=created_at,
            # Never outlive the message they answer (the sweep deletes both together).
            retain_until=inbound.retain_until,
            legal_hold=inbound.legal_hold,
        )
        self._session.add(message)
        return message

    def add_routed_handoff(
        self,
        *,
        conversation: Conversation,
        reason: str,
        route: HandoffRoute | None,
        now: datetime,
        retain_until: datetime,
        legal_hold: bool,
    ) -> Handoff:
        """Hand ``conversation`` to people; the bot stays quiet until they resolve it."""
        assert conversation.id is not None
        route = route or UNROUTED
        handoff = Handoff(
            org_id=self.org_id,
            conversation_id=conversation.id,
            contact_id=conversation.contact_id,
            reason=reason,
            detail=None,
            created_at=now,
            retain_until=retain_until,
            legal_hold=legal_hold,
            topic=route.topic[:100] if route.topic else None,
            language=route.language,
            sentiment=route.sentiment,
            urgency=route.urgency,
            priority=route.priority,
            team_id=route.team_id,
            assigned_agent_id=route.assigned_agent_id,
            routing_reasons=list(route.routing_reasons),
            summary=route.summary,
            suggested_entry_ids=list(route.suggested_entry_ids),
        )
        self._session.add(handoff)
        self._check_owned(conversation)
        conversation.status = ConversationStatus.HANDOFF
        self._session.add(conversation)
        self._session.flush()
        return handoff

    def correct_reply(self, message_id: int, body: str) -> None:
        """Replace a stored reply's words, so that a retried delivery replays the truth."""
        message = self.get_message(message_id)
        if message is not None and message.direction == Direction.OUTBOUND:
            message.body = body
            self._session.add(message)

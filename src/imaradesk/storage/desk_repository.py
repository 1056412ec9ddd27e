"""What the agents' desk reads and changes: open handoffs, their conversations, assignment and
resolution. Every method is scoped to one organization: another's handoff is not found.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import col, select

from imaradesk.storage.db import Database
from imaradesk.storage.models import (
    AgentAccount,
    AuditEvent,
    Contact,
    Conversation,
    Direction,
    Handoff,
    HandoffStatus,
    Message,
    Organization,
    Team,
)
from imaradesk.storage.repositories import OrgData


class HandoffNotOpen(LookupError):
    """No open handoff with that id in this organization."""


class AgentNotFound(LookupError):
    """No agent with that id in this organization."""


@dataclass(frozen=True)
class InboxItem:
    handoff: Handoff
    contact: Contact
    conversation: Conversation
    last_inbound_body: str | None


@dataclass(frozen=True)
class HandoffThread:
    """A handoff with its conversation; either may be gone (erased) while the handoff stays."""

    handoff: Handoff
    conversation: Conversation | None
    contact: Contact | None
    messages: tuple[Message, ...]


@dataclass(frozen=True)
class ResolvedHandoff:
    handoff: Handoff
    conversation: Conversation | None


class DeskRepository:
    def __init__(self, database: Database) -> None:
        self._db = database

    def open_handoffs(
        self, *, org_id: int, assigned_to: int | None = None, unassigned_only: bool = False
    ) -> list[InboxItem]:
        """Open handoffs, most urgent and oldest first, with what the customer last wrote."""
        with self._db.read() as session:
            query = select(Handoff).where(
                Handoff.org_id == org_id, Handoff.status == HandoffStatus.OPEN
            )
            if assigned_to is not None:
                query = query.where(Handoff.assigned_agent_id == assigned_to)
            elif unassigned_only:
                query = query.where(col(Handoff.assigned_agent_id).is_(None))
            handoffs = session.exec(
                query.order_by(col(Handoff.priority).desc(), col(Handoff.created_at))
            ).all()
            items = []
            for handoff in handoffs:
                contact = session.get(Contact, handoff.contact_id)
                conversation = session.get(Conversation, handoff.conversation_id)
                if contact is None or conversation is None:
                    continue
                # The whole row: bodies are sealed, and only loaded rows are opened.
                last = session.exec(
                    select(Message)
                    .where(
                        Message.org_id == org_id,
                        Message.conversation_id == handoff.conversation_id,
                        Message.direction == Direction.INBOUND,
                    )
                    .order_by(col(Message.id).desc())
                ).first()
                items.append(InboxItem(handoff, contact, conversation, last.body if last else None))
        return items

    def thread(self, *, org_id: int, handoff_id: int) -> HandoffThread | None:
        with self._db.read() as session:
            data = OrgData(session, org_id)
            handoff = data.handoff(handoff_id)
            if handoff is None:
                return None
            conversation = session.get(Conversation, handoff.conversation_id)
            contact = session.get(Contact, handoff.contact_id)
            if conversation is None or conversation.org_id != org_id or conversation.id is None:
                return HandoffThread(handoff, None, contact, ())
            messages = tuple(data.messages_of(conversation.id))
        return HandoffThread(handoff, conversation, contact, messages)

    def agent_names(self, *, org_id: int) -> dict[int, str]:
        with self._db.read() as session:
            rows = session.exec(select(AgentAccount).where(AgentAccount.org_id == org_id)).all()
        return {a.id: a.name for a in rows if a.id is not None}

    def team_names(self, *, org_id: int) -> dict[int, str]:
        with self._db.read() as session:
            rows = session.exec(select(Team).where(Team.org_id == org_id)).all()
        return {t.id: t.name for t in rows if t.id is not None}

    def assign(
        self,
        *,
        org_id: int,
        handoff_id: int,
        agent_id: int,
        now: datetime,
        by: int | None = None,
    ) -> Handoff:
        """Give an open handoff to an agent (the first taking keeps its time). Taking it from
        another agent is recorded in the audit trail, with who (``by``) did it.

        Raises:
            HandoffNotOpen: no open handoff with that id.
            AgentNotFound: no agent with that id in the organization.
        """
        with self._db.write() as session:
            handoff = OrgData(session, org_id).handoff(handoff_id)
            agent = session.get(AgentAccount, agent_id)
            if handoff is None or handoff.status != HandoffStatus.OPEN:
                raise HandoffNotOpen(f"no open handoff #{handoff_id}")
            if agent is None or agent.org_id != org_id:
                raise AgentNotFound(f"no agent #{agent_id}")
            previous = handoff.assigned_agent_id
            if previous is not None and previous != agent_id:
                org = session.get(Organization, org_id)
                assert org is not None
                session.add(
                    AuditEvent(
                        org_id=org_id,
                        at=now,
                        actor=f"agent:{by}" if by is not None else "system",
                        action="handoff_reassigned",
                        subject=f"handoff:{handoff_id}",
                        note=f"from agent {previous} to agent {agent_id}",
                        retain_until=now + timedelta(days=org.audit_retention_days),
                    )
                )
            handoff.assigned_agent_id = agent_id
            handoff.taken_at = handoff.taken_at or now
            session.add(handoff)
            return handoff

    def resolve(self, *, org_id: int, handoff_id: int, now: datetime) -> ResolvedHandoff | None:
        """Resolve an open handoff; None if there is none open with that id."""
        with self._db.write() as session:
            handoff = OrgData(session, org_id).resolve_handoff(handoff_id, now=now)
            if handoff is None:
                return None
            conversation = session.get(Conversation, handoff.conversation_id)
            return ResolvedHandoff(handoff, conversation)

"""Where agents work: the inbox of handoffs, a conversation, and what they do with it.

Everything is scoped to the signed-in account's organization: a handoff of another organization
is simply not found.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import col, select

from imaradesk.bot.rules import CSAT_HANDOFF
from imaradesk.delivery.outbound import OptedOut, OutboundService, SendResult
from imaradesk.knowledge_index.knowledge_base import EntryInfo, KnowledgeBase
from imaradesk.runtime.clock import Clock
from imaradesk.storage.conversation_state import ConversationStateStore
from imaradesk.storage.db import Database
from imaradesk.storage.models import (
    AgentAccount,
    Contact,
    Conversation,
    ConversationStatus,
    Direction,
    Handoff,
    HandoffStatus,
    Message,
    MessageTemplate,
    Organization,
    Team,
)
from imaradesk.storage.repositories import OrgData

CSAT_QUESTION = (
    "Our team has finished helping you. How would you rate the help you got? Reply with a "
    "number from 1 (poor) to 5 (excellent)."
)


class DeskError(Exception):
    pass


class NotFound(DeskError):
    pass


@dataclass(frozen=True)
class InboxRow:
    handoff: Handoff
    contact_label: str
    team: str
    agent: str | None
    age: timedelta
    last_message: str
    channel: str


@dataclass(frozen=True)
class ConversationView:
    org: Organization
    handoff: Handoff
    conversation: Conversation
    contact: Contact
    messages: list[Message]
    agents: dict[int, str]
    team: str
    suggestions: list[EntryInfo]
    templates: list[MessageTemplate]
    window_open: bool
    last_customer_message_at: datetime | None


def contact_label(contact: Contact) -> str:
    """A name, or a number shown only by its last digits: agents rarely need more."""
    if contact.display_name:
        return contact.display_name
    digits = contact.address[-4:]
    return f"{contact.channel} …{digits}"


class AgentDesk:
    def __init__(
        self,
        *,
        database: Database,
        knowledge: KnowledgeBase,
        outbound: OutboundService,
        state: ConversationStateStore,
        clock: Clock,
    ) -> None:
        self._db = database
        self._knowledge = knowledge
        self._outbound = outbound
        self._state = state
        self._clock = clock

    # -- reading ---------------------------------------------------------------------------------

    def inbox(
        self, org: Organization, *, scope: str = "all", account: AgentAccount | None = None
    ) -> list[InboxRow]:
        """Open handoffs, most urgent and oldest first. Scope: all, mine, unassigned."""
        now = self._clock.now()
        with self._db.read() as session:
            query = select(Handoff).where(
                Handoff.org_id == org.id, Handoff.status == HandoffStatus.OPEN
            )
            if scope == "mine" and account is not None:
                query = query.where(Handoff.assigned_agent_id == account.id)
            elif scope == "unassigned":
                query = query.where(col(Handoff.assigned_agent_id).is_(None))
            handoffs = session.exec(
                query.order_by(col(Handoff.priority).desc(), col(Handoff.created_at))
            ).all()
            teams = self._teams(session, org)
            agents = self._agents(session, org)
            rows = []
            for handoff in handoffs:
                contact = session.get(Contact, handoff.contact_id)
                conversation = session.get(Conversation, handoff.conversation_id)
                last = session.exec(
                    select(Message)
                    .where(
                        Message.org_id == org.id,
                        Message.conversation_id == handoff.conversation_id,
                        Message.direction == Direction.INBOUND,
                    )
                    .order_by(col(Message.id).desc())
                ).first()
                if contact is None or conversation is None:
                    continue
                rows.append(
                    InboxRow(
                        handoff=handoff,
                        contact_label=contact_label(contact),
                        team=teams.get(handoff.team_id, "General")
                        if handoff.team_id
                        else "General",
                        agent=agents.get(handoff.assigned_agent_id)
                        if handoff.assigned_agent_id
                        else None,
                        age=now - handoff.created_at,
                        last_message=(last.body[:120] if last else ""),
                        channel=conversation.channel,
                    )
                )
        return rows

    def view(self, org: Organization, handoff_id: int) -> ConversationView:
        with self._db.read() as session:
            data = OrgData(session, org.id)  # type: ignore[arg-type]
            handoff = data.handoff(handoff_id)
            if handoff is None:
                raise NotFound(f"no handoff #{handoff_id}")
            conversation = session.get(Conversation, handoff.conversation_id)
            contact = session.get(Contact, handoff.contact_id)
            if conversation is None or contact is None:
                raise NotFound(f"handoff #{handoff_id} has no conversation any more")
            messages = list(data.messages_of(conversation.id))  # type: ignore[arg-type]
            agents = self._agents(session, org)
            teams = self._teams(session, org)
            templates = list(
                session.exec(select(MessageTemplate).where(MessageTemplate.org_id == org.id)).all()
            )
        snapshot = self._knowledge.snapshot(org.id, revision=org.kb_revision)  # type: ignore[arg-type]
        suggestions = [
            snapshot.entries[i] for i in handoff.suggested_entry_ids if i in snapshot.entries
        ]
        return ConversationView(
            org=org,
            handoff=handoff,
            conversation=conversation,
            contact=contact,
            messages=messages,
            agents=agents,
            team=teams.get(handoff.team_id, "General") if handoff.team_id else "General",
            suggestions=suggestions,
            templates=templates,
            window_open=self._outbound.window_open(org, conversation),
            last_customer_message_at=self._outbound.last_customer_message_at(org, conversation.id),  # type: ignore[arg-type]
        )

    def messages_after(self, org: Organization, handoff_id: int, after_id: int) -> list[Message]:
        view = self.view(org, handoff_id)
        return [m for m in view.messages if (m.id or 0) > after_id]

    def agents(self, org: Organization) -> dict[int, str]:
        with self._db.read() as session:
            return self._agents(session, org)

    @staticmethod
    def _agents(session: object, org: Organization) -> dict[int, str]:
        rows = session.exec(select(AgentAccount).where(AgentAccount.org_id == org.id)).all()  # type: ignore[attr-defined]
        return {a.id: a.name for a in rows if a.id is not None}

    @staticmethod
    def _teams(session: object, org: Organization) -> dict[int, str]:
        rows = session.exec(select(Team).where(Team.org_id == org.id)).all()  # type: ignore[attr-defined]
        return {t.id: t.name for t in rows if t.id is not None}

    # -- acting ----------------------------------------------------------------------------------

    def take(self, org: Organization, handoff_id: int, account: AgentAccount) -> Handoff:
        return self.assign(org, handoff_id, account.id)  # type: ignore[arg-type]

    def assign(self, org: Organization, handoff_id: int, agent_id: int) -> Handoff:
        with self._db.write() as session:
            data = OrgData(session, org.id)  # type: ignore[arg-type]
            handoff = data.handoff(handoff_id)
            agent = session.get(AgentAccount, agent_id)
            if handoff is None or handoff.status != HandoffStatus.OPEN:
                raise NotFound(f"no open handoff #{handoff_id}")
            if agent is None or agent.org_id != org.id:
                raise NotFound(f"no agent #{agent_id}")
            handoff.assigned_agent_id = agent_id
            handoff.taken_at = handoff.taken_at or self._clock.now()
            session.add(handoff)
            return handoff

    def resolve(self, org: Organization, handoff_id: int) -> Handoff:
        """Close the handoff, give the conversation back to the bot and ask for a rating."""
        with self._db.write() as session:
            data = OrgData(session, org.id)  # type: ignore[arg-type]
            handoff = data.resolve_handoff(handoff_id, now=self._clock.now())
            if handoff is None:
                raise NotFound(f"no open handoff #{handoff_id}")
            conversation = session.get(Conversation, handoff.conversation_id)
        if conversation is None or conversation.status != ConversationStatus.BOT:
            return handoff  # another handoff of this conversation is still open
        self._state.update(org.id, handoff.contact_id, {CSAT_HANDOFF: str(handoff.id)})  # type: ignore[arg-type]
        if self._outbound.window_open(org, conversation):
            try:
                self._outbound.send_text(
                    org, conversation, CSAT_QUESTION, agent_id=None, kind="csat_question"
                )
            except OptedOut:
                pass  # they said STOP: no rating question either
        return handoff

    def reply(
        self, org: Organization, handoff_id: int, account: AgentAccount, text: str
    ) -> SendResult:
        view = self.view(org, handoff_id)
        if view.handoff.status != HandoffStatus.OPEN:
            raise DeskError("this conversation is resolved")
        if view.handoff.assigned_agent_id is None:
            self.take(org, handoff_id, account)
        return self._outbound.send_text(org, view.conversation, text, agent_id=account.id)

    def send_template(
        self, org: Organization, handoff_id: int, account: AgentAccount, template_id: int
    ) -> SendResult:
        view = self.view(org, handoff_id)
        return self._outbound.send_template(
            org, view.conversation, template_id, agent_id=account.id
        )

    def retry(self, org: Organization, handoff_id: int, message_id: int) -> SendResult:
        view = self.view(org, handoff_id)
        return self._outbound.retry(org, view.conversation, message_id)

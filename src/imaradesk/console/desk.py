"""Where agents work: the inbox of handoffs, a conversation, and what they do with it.

Everything is scoped to the signed-in account's organization: a handoff of another organization
is simply not found.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from imaradesk.bot.language import language_for
from imaradesk.bot.reply_options import rating
from imaradesk.bot.rules import CSAT_HANDOFF
from imaradesk.delivery.outbound import OptedOut, OutboundService, SendResult
from imaradesk.knowledge_index.knowledge_base import EntryInfo, KnowledgeBase
from imaradesk.runtime.clock import Clock
from imaradesk.runtime.i18n import N_, translate
from imaradesk.storage.conversation_state import ConversationStateStore
from imaradesk.storage.desk_repository import AgentNotFound, DeskRepository, HandoffNotOpen
from imaradesk.storage.media_repository import MediaRepository, StoredMedia
from imaradesk.storage.models import (
    AgentAccount,
    AgentRole,
    Contact,
    Conversation,
    ConversationStatus,
    Handoff,
    HandoffStatus,
    Message,
    MessageTemplate,
    Organization,
)

CSAT_QUESTION = N_(
    "Our team has finished helping you. How would you rate the help you got? Reply with a "
    "number from 1 (poor) to 5 (excellent)."
)


class DeskError(Exception):
    pass


class NotFound(DeskError):
    pass


class NotYours(DeskError):
    """Another agent owns the conversation."""


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
    # (message id, position) of the customer's media files the organization kept.
    kept_media: frozenset[tuple[int, int]] = frozenset()


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
        repository: DeskRepository,
        knowledge: KnowledgeBase,
        outbound: OutboundService,
        state: ConversationStateStore,
        clock: Clock,
        media: MediaRepository,
    ) -> None:
        self._media = media
        self._repository = repository
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
        org_id = _id(org)
        items = self._repository.open_handoffs(
            org_id=org_id,
            assigned_to=account.id if scope == "mine" and account is not None else None,
            unassigned_only=scope == "unassigned",
        )
        teams = self._repository.team_names(org_id=org_id)
        agents = self._repository.agent_names(org_id=org_id)
        return [
            InboxRow(
                handoff=item.handoff,
                contact_label=contact_label(item.contact),
                team=_team_name(teams, item.handoff),
                agent=agents.get(item.handoff.assigned_agent_id)
                if item.handoff.assigned_agent_id
                else None,
                age=now - item.handoff.created_at,
                last_message=(item.last_inbound_body or "")[:120],
                channel=item.conversation.channel,
            )
            for item in items
        ]

    def view(self, org: Organization, handoff_id: int) -> ConversationView:
        org_id = _id(org)
        thread = self._repository.thread(org_id=org_id, handoff_id=handoff_id)
        if thread is None:
            raise NotFound(f"no handoff #{handoff_id}")
        handoff, conversation, contact = thread.handoff, thread.conversation, thread.contact
        if conversation is None or contact is None:
            raise NotFound(f"handoff #{handoff_id} has no conversation any more")
        snapshot = self._knowledge.snapshot(org_id, revision=org.kb_revision)
        suggestions = [
            snapshot.entries[i] for i in handoff.suggested_entry_ids if i in snapshot.entries
        ]
        messages = list(thread.messages)
        with_media = [m.id for m in messages if m.media and m.id is not None]
        return ConversationView(
            org=org,
            handoff=handoff,
            conversation=conversation,
            contact=contact,
            messages=messages,
            kept_media=frozenset(self._media.positions(org_id=org_id, message_ids=with_media)),
            agents=self._repository.agent_names(org_id=org_id),
            team=_team_name(self._repository.team_names(org_id=org_id), handoff),
            suggestions=suggestions,
            templates=self._outbound.templates(org, conversation),
            window_open=self._outbound.window_open(org, conversation),
            last_customer_message_at=self._outbound.last_customer_message_at(
                org, _id(conversation)
            ),
        )

    def media_file(
        self, org: Organization, handoff_id: int, message_id: int, position: int
    ) -> StoredMedia:
        """A kept media file of this conversation's customer (NotFound for any other)."""
        view = self.view(org, handoff_id)
        if (message_id, position) not in view.kept_media:
            raise NotFound("no such media in this conversation")
        found = self._media.get(org_id=_id(org), message_id=message_id, position=position)
        if found is None:
            raise NotFound("the media file is gone")
        return found

    def messages_after(self, org: Organization, handoff_id: int, after_id: int) -> list[Message]:
        view = self.view(org, handoff_id)
        return [m for m in view.messages if (m.id or 0) > after_id]

    def agents(self, org: Organization) -> dict[int, str]:
        return self._repository.agent_names(org_id=_id(org))

    # -- acting ----------------------------------------------------------------------------------

    def take(self, org: Organization, handoff_id: int, account: AgentAccount) -> Handoff:
        """Own the conversation (taking it from another agent is recorded)."""
        return self.assign(org, handoff_id, _id(account), by=account)

    def assign(
        self,
        org: Organization,
        handoff_id: int,
        agent_id: int,
        *,
        by: AgentAccount | None = None,
    ) -> Handoff:
        try:
            return self._repository.assign(
                org_id=_id(org),
                handoff_id=handoff_id,
                agent_id=agent_id,
                now=self._clock.now(),
                by=by.id if by is not None else None,
            )
        except (HandoffNotOpen, AgentNotFound) as e:
            raise NotFound(str(e)) from e

    def resolve(self, org: Organization, handoff_id: int) -> Handoff:
        """Close the handoff, give the conversation back to the bot and ask for a rating."""
        resolved = self._repository.resolve(
            org_id=_id(org), handoff_id=handoff_id, now=self._clock.now()
        )
        if resolved is None:
            raise NotFound(f"no open handoff #{handoff_id}")
        handoff, conversation = resolved.handoff, resolved.conversation
        if conversation is None or conversation.status != ConversationStatus.BOT:
            return handoff  # another handoff of this conversation is still open
        self._state.update(_id(org), handoff.contact_id, {CSAT_HANDOFF: str(handoff.id)})
        if self._outbound.window_open(org, conversation):
            language = self._customer_language(org, handoff)
            question = translate(language, CSAT_QUESTION)
            try:
                self._outbound.send_text(
                    org,
                    conversation,
                    question,
                    agent_id=None,
                    kind="csat_question",
                    options=rating(language),
                )
            except OptedOut:
                pass  # they said STOP: no rating question either
        return handoff

    def _customer_language(self, org: Organization, handoff: Handoff) -> str:
        """The customer's language: as they chose or last wrote, else as routing heard it."""
        assert handoff.id is not None
        thread = self._repository.thread(org_id=_id(org), handoff_id=handoff.id)
        contact = thread.contact if thread is not None else None
        state = self._state.get(_id(org), handoff.contact_id)
        return language_for(contact, state, fallback=handoff.language or "en")

    def reply(
        self, org: Organization, handoff_id: int, account: AgentAccount, text: str
    ) -> SendResult:
        view = self.view(org, handoff_id)
        if view.handoff.status != HandoffStatus.OPEN:
            raise DeskError("this conversation is resolved")
        owner = view.handoff.assigned_agent_id
        if owner is None:
            self.take(org, handoff_id, account)
        elif owner != account.id and account.role != AgentRole.ADMIN:
            # Two people answering one customer at once contradict each other: the owner or an
            # admin replies; anyone else takes it over first, and that is recorded.
            raise NotYours(
                f"{view.agents.get(owner, 'another agent')} is handling this conversation: "
                "take it over to reply"
            )
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


def _team_name(teams: dict[int, str], handoff: Handoff) -> str:
    return teams.get(handoff.team_id, "General") if handoff.team_id else "General"


def _id(row: Organization | Conversation | AgentAccount) -> int:
    if row.id is None:
        raise ValueError(f"{type(row).__name__} is not stored yet")
    return row.id

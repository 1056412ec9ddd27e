"""Stage 4 of a turn: where a handoff goes (classification, team, agent, summary, suggestions).

Only a turn that hands off is routed. The planner sees the customer's last few messages and
the turn's own search, so routing costs no second search; no model looks at the words of a
contact who restricted processing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from imaradesk.bot.context import NoRoutingSignals, RoutingSignals, TurnContext
from imaradesk.bot.decision import Decision
from imaradesk.bot.handoff_router import HandoffPlan
from imaradesk.bot.observe import Observation
from imaradesk.knowledge_index.knowledge_base import Retrieval
from imaradesk.storage.db import Database
from imaradesk.storage.models import Direction, Organization
from imaradesk.storage.repositories import OrgData

RECENT_MESSAGES = 5


class HandoffPlanner(Protocol):
    def signals(self, org: Organization) -> RoutingSignals:
        """The organization's routing rules and the signals its turns' rules may use."""
        ...

    def detect_language(self, text: str) -> str: ...

    def plan(
        self,
        org: Organization,
        *,
        trigger: str,
        latest: str,
        recent: Sequence[str],
        use_model: bool,
        retrieval: Retrieval | None = None,
    ) -> HandoffPlan | None:
        """Route one handoff; None leaves it unrouted in the organization's queue.

        Args:
            trigger: the handoff reason.
            latest: the message that handed off.
            recent: the customer's earlier messages of the conversation, oldest first.
            use_model: False for contacts who restricted processing.
            retrieval: the turn's own search for ``latest``, if it made one.
        """
        ...


class NoHandoffPlanning:
    """Handoffs wait in the organization's queue, unclassified."""

    def signals(self, org: Organization) -> RoutingSignals:
        return NoRoutingSignals()

    def detect_language(self, text: str) -> str:
        return "en"

    def plan(
        self,
        org: Organization,
        *,
        trigger: str,
        latest: str,
        recent: Sequence[str],
        use_model: bool,
        retrieval: Retrieval | None = None,
    ) -> HandoffPlan | None:
        return None


class HandoffRouting:
    def __init__(self, *, database: Database, planner: HandoffPlanner) -> None:
        self._db = database
        self._planner = planner

    def route(
        self, org: Organization, observation: Observation, ctx: TurnContext, decision: Decision
    ) -> HandoffPlan | None:
        if decision.handoff_reason is None:
            return None
        return self._planner.plan(
            org,
            trigger=decision.handoff_reason.value,
            latest=ctx.text,
            recent=self._recent_texts(org, observation),
            use_model=not ctx.restricted,
            retrieval=ctx.retrieval_if_searched,
        )

    def _recent_texts(self, org: Organization, observation: Observation) -> list[str]:
        conversation = observation.conversation
        if conversation is None or conversation.id is None or org.id is None:
            return []
        with self._db.read() as session:
            messages = OrgData(session, org.id).messages_of(conversation.id)
        texts = [m.body for m in messages if m.direction == Direction.INBOUND and m.body]
        return texts[-RECENT_MESSAGES:]

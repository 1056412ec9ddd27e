"""The rows handoff routing reads: an organization's routing rules and its agents' loads."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import col, func, select

from imaradesk.storage.models import AgentAccount, Handoff, HandoffStatus, RoutingRule
from imaradesk.storage.scoped import OrgScoped


class RoutingData(OrgScoped):
    def rules(self) -> Sequence[RoutingRule]:
        """The organization's routing rules, in the order they are tried."""
        return self._session.exec(
            select(RoutingRule)
            .where(RoutingRule.org_id == self.org_id)
            .order_by(col(RoutingRule.position))
        ).all()

    def agents(self) -> Sequence[AgentAccount]:
        return self._session.exec(
            select(AgentAccount).where(AgentAccount.org_id == self.org_id)
        ).all()

    def open_handoffs_by_agent(self) -> dict[int | None, int]:
        """How many open handoffs each agent holds (None: waiting in a queue)."""
        rows = self._session.exec(
            select(Handoff.assigned_agent_id, func.count())
            .where(Handoff.org_id == self.org_id, Handoff.status == HandoffStatus.OPEN)
            .group_by(col(Handoff.assigned_agent_id))
        ).all()
        return {agent_id: int(count) for agent_id, count in rows}

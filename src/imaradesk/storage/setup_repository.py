"""An organization's desk configuration: teams, routing rules and message templates."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import col, func, select

from imaradesk.storage.models import MessageTemplate, RoutingRule, Team
from imaradesk.storage.scoped import OrgScoped


class DeskConfig(OrgScoped):
    """Reads and writes of one organization's teams, routing rules and templates."""

    # -- teams ---------------------------------------------------------------------------------

    def team_id(self, name: str) -> int:
        """The id of the named team, created if needed."""
        team = self._session.exec(
            select(Team).where(Team.org_id == self.org_id, Team.name == name)
        ).first()
        if team is None:
            team = Team(org_id=self.org_id, name=name)
            self._session.add(team)
            self._session.flush()
        assert team.id is not None
        return team.id

    def team_names(self) -> dict[int, str]:
        teams = self._session.exec(select(Team).where(Team.org_id == self.org_id)).all()
        return {t.id: t.name for t in teams if t.id is not None}

    # -- routing rules ---------------------------------------------------------------------------

    def add_routing_rule(
        self,
        *,
        kind: str,
        value: str,
        keywords: list[str],
        team_id: int | None,
        priority: int,
        always_human: bool = False,
        examples: list[str] | None = None,
    ) -> RoutingRule:
        """Add a rule after the organization's others (rules are tried in order)."""
        last = self._session.exec(
            select(func.coalesce(func.max(RoutingRule.position), 0)).where(
                RoutingRule.org_id == self.org_id
            )
        ).one()
        rule = RoutingRule(
            org_id=self.org_id,
            kind=kind,
            value=value,
            keywords=keywords,
            team_id=team_id,
            priority=priority,
            always_human=always_human,
            examples=examples or [],
            position=int(last) + 1,
        )
        self._session.add(rule)
        self._session.flush()
        return rule

    def routing_rules(self) -> Sequence[RoutingRule]:
        return self._session.exec(
            select(RoutingRule)
            .where(RoutingRule.org_id == self.org_id)
            .order_by(col(RoutingRule.position))
        ).all()

    # -- templates -------------------------------------------------------------------------------

    def add_template(self, *, name: str, content_sid: str, body: str) -> MessageTemplate:
        template = MessageTemplate(
            org_id=self.org_id, name=name, content_sid=content_sid, body=body
        )
        self._session.add(template)
        self._session.flush()
        return template

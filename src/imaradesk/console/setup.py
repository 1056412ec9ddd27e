"""Configuring how an organization's desk routes work: teams, routing rules, templates."""

from __future__ import annotations

from sqlmodel import Session, col, func, select

from imaradesk.storage.db import Database
from imaradesk.storage.models import MessageTemplate, RoutingRule, Team


class SetupError(ValueError):
    pass


def team_id(session: Session, org_id: int, name: str) -> int:
    """The id of the named team, created if needed."""
    team = session.exec(select(Team).where(Team.org_id == org_id, Team.name == name)).first()
    if team is None:
        team = Team(org_id=org_id, name=name)
        session.add(team)
        session.flush()
    assert team.id is not None
    return team.id


class DeskSetup:
    def __init__(self, database: Database) -> None:
        self._db = database

    def add_topic_rule(
        self,
        org_id: int,
        *,
        topic: str,
        keywords: list[str],
        team: str | None,
        priority: int = 0,
        always_human: bool = False,
        examples: list[str] | None = None,
    ) -> RoutingRule:
        if not topic.strip():
            raise SetupError("a topic needs a name")
        return self._add(
            org_id,
            kind="topic",
            value=topic.strip(),
            keywords=[k.strip().casefold() for k in keywords if k.strip()],
            team=team,
            priority=priority,
            always_human=always_human,
            examples=[e.strip() for e in examples or [] if e.strip()],
        )

    def add_language_rule(
        self, org_id: int, *, language: str, team: str, priority: int = 0
    ) -> RoutingRule:
        if language not in ("en", "sw"):
            raise SetupError("languages are en or sw")
        return self._add(
            org_id, kind="language", value=language, keywords=[], team=team, priority=priority
        )

    def _add(
        self,
        org_id: int,
        *,
        kind: str,
        value: str,
        keywords: list[str],
        team: str | None,
        **fields: object,
    ) -> RoutingRule:
        with self._db.write() as session:
            position = session.exec(
                select(func.coalesce(func.max(RoutingRule.position), 0)).where(
                    RoutingRule.org_id == org_id
                )
            ).one()
            rule = RoutingRule(
                org_id=org_id,
                kind=kind,
                value=value,
                keywords=keywords,
                team_id=team_id(session, org_id, team) if team else None,
                position=int(position) + 1,
                **fields,
            )
            session.add(rule)
            session.flush()
            return rule

    def rules(self, org_id: int) -> list[tuple[RoutingRule, str | None]]:
        with self._db.read() as session:
            teams = {
                t.id: t.name for t in session.exec(select(Team).where(Team.org_id == org_id)).all()
            }
            rows = session.exec(
                select(RoutingRule)
                .where(RoutingRule.org_id == org_id)
                .order_by(col(RoutingRule.position))
            ).all()
            return [(r, teams.get(r.team_id) if r.team_id else None) for r in rows]

    def add_template(
        self, org_id: int, *, name: str, content_sid: str, body: str
    ) -> MessageTemplate:
        if not content_sid.startswith("HX"):
            raise SetupError("Twilio Content SIDs start with HX")
        with self._db.write() as session:
            template = MessageTemplate(org_id=org_id, name=name, content_sid=content_sid, body=body)
            session.add(template)
            session.flush()
            return template

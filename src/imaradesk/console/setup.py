"""Configuring how an organization's desk routes work: teams, routing rules, templates."""

from __future__ import annotations

from imaradesk.storage.db import Database
from imaradesk.storage.models import MessageTemplate, RoutingRule
from imaradesk.storage.setup_repository import DeskConfig


class SetupError(ValueError):
    pass


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
        priority: int,
        always_human: bool = False,
        examples: list[str] | None = None,
    ) -> RoutingRule:
        with self._db.write() as session:
            config = DeskConfig(session, org_id)
            return config.add_routing_rule(
                kind=kind,
                value=value,
                keywords=keywords,
                team_id=config.team_id(team) if team else None,
                priority=priority,
                always_human=always_human,
                examples=examples,
            )

    def rules(self, org_id: int) -> list[tuple[RoutingRule, str | None]]:
        with self._db.read() as session:
            config = DeskConfig(session, org_id)
            teams = config.team_names()
            return [
                (r, teams.get(r.team_id) if r.team_id else None) for r in config.routing_rules()
            ]

    def add_template(
        self, org_id: int, *, name: str, content_sid: str, body: str
    ) -> MessageTemplate:
        if not content_sid.startswith("HX"):
            raise SetupError("Twilio Content SIDs start with HX")
        with self._db.write() as session:
            return DeskConfig(session, org_id).add_template(
                name=name, content_sid=content_sid, body=body
            )

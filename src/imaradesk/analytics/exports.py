"""Exports that leave the product: training/evaluation examples and analytics aggregates.

Organizations that chose "exclude from training" appear in neither, and neither holds an
identity: examples are redacted customer questions with the entry that answered them;
analytics are counts per organization and day.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from imaradesk.pii.redactor import Redactor
from imaradesk.storage.db import Database
from imaradesk.storage.export_repository import ExportData
from imaradesk.storage.models import Organization
from imaradesk.storage.repositories import OrgData


@dataclass(frozen=True)
class TrainingExample:
    org_slug: str
    question: str
    answered_entry: str | None
    outcome: str


def _included_orgs(database: Database) -> list[Organization]:
    with database.read() as session:
        return list(ExportData(session).included_organizations())


def training_examples(
    database: Database, *, redactor: Redactor | None = None
) -> Iterator[TrainingExample]:
    """Customer questions the bot processed with consent, redacted, with what it did."""
    redactor = redactor or Redactor()
    for org in _included_orgs(database):
        assert org.id is not None
        with database.read() as session:
            data = OrgData(session, org.id)
            entries = {e.id: e.external_id for e in data.entries()}
            rows = ExportData(session).consented_questions(org.id)
            for inbound in rows:
                assert inbound.id is not None
                replies = data.replies_to(inbound.id)
                answer = next((r for r in replies if r.kind == "answer"), None)
                outcome = (
                    "answer"
                    if answer
                    else ("handoff" if any(r.handoff for r in replies) else "clarify")
                )
                yield TrainingExample(
                    org_slug=org.slug,
                    question=redactor.redact(inbound.body).text,
                    answered_entry=entries.get(answer.answer_entry_id)
                    if answer and answer.answer_entry_id
                    else None,
                    outcome=outcome,
                )


def daily_counts(database: Database) -> list[dict[str, object]]:
    """Messages, answers and handoffs per organization and day; no identities."""
    orgs = {org.analytics_ref: org.slug for org in _included_orgs(database)}
    with database.read() as session:
        rows = ExportData(session).daily_counts(orgs)
    return [
        {
            "org": orgs[r.org_ref],
            "day": r.day,
            "inbound": r.inbound,
            "answers": r.answers,
            "handoffs": r.handoffs,
        }
        for r in rows
    ]

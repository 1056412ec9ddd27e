"""The organization's training choices decide whether its answer model is tuned, on a real
SQLite database: excluded from training means untuned, unless its admin opts in."""

from __future__ import annotations

import pytest

from imaradesk.knowledge_index.documents import parse_csv
from imaradesk.storage.compliance_repository import ComplianceData
from imaradesk.storage.db import Database
from tests.knowledge_index.test_knowledge_base import another_process

TOPICS = {
    "balance": "check my balance",
    "statement": "get a statement of my account",
    "pin": "reset my PIN",
    "loan": "apply for a loan",
    "agent": "find an agent near me",
    "limit": "raise my sending limit",
    "card": "order a new card",
    "close": "close my account",
    "paybill": "pay a bill with paybill",
    "number": "change my phone number",
}
TEMPLATES = (
    "how do I {t}",
    "I want to {t}",
    "help me {t}",
    "can I {t}",
    "please {t}",
    "where do I {t}",
    "I need to {t}",
    "is it possible to {t}",
    "how can I {t} today",
    "tell me how to {t}",
    "I would like to {t}",
    "what is the way to {t}",
)
QUESTION = "how do I check my balance"


def classifier_faq() -> bytes:
    """Ten entries of twelve phrasings: enough held-out phrasings for a calibrated classifier,
    few enough for the tuning head (tuning.HEAD_MAX_PHRASINGS)."""
    rows = ["id,question,answer"]
    for key, topic in TOPICS.items():
        for i, template in enumerate(TEMPLATES):
            answer = f"How to {topic}." if i == 0 else ""
            rows.append(f"{key},{template.format(t=topic)},{answer}")
    return ("\n".join(rows) + "\n").encode()


def import_faq(services, org_id: int):
    return services.knowledge.import_documents(org_id, [parse_csv(classifier_faq(), "faq.csv")])


@pytest.mark.parametrize(
    ("exclude_from_training", "tuning_opt_in", "tuned"),
    [
        pytest.param(True, False, False, id="excluded-is-not-tuned"),
        pytest.param(True, True, True, id="excluded-but-opted-in-is-tuned"),
        pytest.param(False, False, True, id="included-is-tuned"),
    ],
)
def test_the_training_choices_decide_whether_the_import_is_tuned(
    make_services,
    sqlite_database: Database,
    exclude_from_training: bool,
    tuning_opt_in: bool,
    tuned: bool,
) -> None:
    """An organization excluded from training gets a classifier without the head trained on
    its phrasings, unless its admin opted in; one not excluded gets the head. The classifier
    is fitted in every case, so an untuned report is the choice, not the knowledge base's size."""
    services = make_services(sqlite_database)
    org = services.organizations.create("acme", name="Acme")
    services.organizations.update(
        org.id, exclude_from_training=exclude_from_training, tuning_opt_in=tuning_opt_in
    )
    report = import_faq(services, org.id)
    assert report.training.method.endswith("calibrated_classifier"), report.training
    assert report.training.tuned is tuned


def test_changing_a_flag_bumps_the_revision_and_every_process_refits(
    make_services, sqlite_database: Database
) -> None:
    """Excluding the organization, then opting in, each bump kb_revision in the same write, so
    another process that searched before the change sees a refitted snapshot at its next
    search; setting a flag to the value it has already bumps nothing."""
    services = make_services(sqlite_database)
    org = services.organizations.create("acme", name="Acme")
    assert import_faq(services, org.id).training.tuned
    org = services.organizations.get(org.id)
    other = another_process(services)
    assert other.search(org.id, QUESTION, revision=org.kb_revision).confident
    assert other.snapshot(org.id).report.tuned

    excluded = services.organizations.update(org.id, exclude_from_training=True)
    assert excluded.kb_revision == org.kb_revision + 1
    assert services.organizations.get(org.id).kb_revision == excluded.kb_revision
    other.search(org.id, QUESTION, revision=excluded.kb_revision)
    assert other.snapshot(org.id).revision == excluded.kb_revision
    assert not other.snapshot(org.id).report.tuned

    same = services.organizations.update(org.id, exclude_from_training=True, name="Acme Ltd")
    assert same.kb_revision == excluded.kb_revision, "no flag changed: the index is not stale"

    opted_in = services.organizations.set_tuning_opt_in(org.id, True, actor="admin:test")
    assert opted_in.kb_revision == excluded.kb_revision + 1
    other.search(org.id, QUESTION, revision=opted_in.kb_revision)
    assert other.snapshot(org.id).report.tuned
    unchanged = services.organizations.set_tuning_opt_in(org.id, True, actor="admin:test")
    assert unchanged.kb_revision == opted_in.kb_revision


def test_opting_in_and_out_is_audited_with_who_did_it(
    make_services, sqlite_database: Database
) -> None:
    """Lifting the opt-out from training is a data-protection choice: each real change leaves
    an audit event naming its actor, a repeated one leaves none."""
    services = make_services(sqlite_database)
    org = services.organizations.create("acme", name="Acme")
    organizations = services.organizations
    organizations.set_tuning_opt_in(org.id, True, actor="console:chebet@acme.example")
    organizations.set_tuning_opt_in(org.id, True, actor="console:chebet@acme.example")
    organizations.set_tuning_opt_in(org.id, False, actor="admin:root")
    with sqlite_database.read() as session:
        trail = [
            (e.action, e.actor, e.subject) for e in ComplianceData(session, org.id).audit_trail()
        ]
    subject = f"organization:{org.id}"
    assert trail == [
        ("tuning_opted_in", "console:chebet@acme.example", subject),
        ("tuning_opted_out", "admin:root", subject),
    ]

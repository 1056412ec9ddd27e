"""Training and analytics exports honour "exclude from training" and hold no identities."""

from __future__ import annotations

from imaradesk.analytics.exports import daily_counts, training_examples
from tests.helpers import SCHOOL_FAQ, Chat, seed_org


def test_excluded_organizations_never_appear_and_questions_are_redacted(
    make_services, sqlite_database
) -> None:
    services = make_services(sqlite_database)
    seed_org(services, "acme")
    school = seed_org(services, "school", faq_csv=SCHOOL_FAQ)
    services.organizations.update(school.id, exclude_from_training=True)
    acme_customer = Chat(services, "acme", sender="+254711000001")
    acme_customer.send("my name is Achieng, how do I check my balance?")
    acme_customer.send("STOP")
    acme_customer.send("after stop, nothing of this is exported")
    Chat(services, "school", sender="+254711000002").send("How do I pay school fees?")

    examples = list(training_examples(services.database))
    assert {e.org_slug for e in examples} == {"acme"}
    assert [e.question for e in examples] == ["my name is [NAME_1], how do I check my balance?"]
    assert examples[0].answered_entry == "balance" and examples[0].outcome == "answer"

    counts = daily_counts(services.database)
    assert {row["org"] for row in counts} == {"acme"}
    assert counts[0]["inbound"] == 3 and counts[0]["answers"] == 1
    assert set(counts[0]) == {"org", "day", "inbound", "answers", "handoffs"}

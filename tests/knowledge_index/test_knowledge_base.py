"""Import, incremental re-indexing, persistence and staleness of the knowledge base."""

from __future__ import annotations

from pathlib import Path

from imaradesk.knowledge_index.documents import parse_csv
from imaradesk.knowledge_index.embedder import HashingEmbedder
from imaradesk.knowledge_index.knowledge_base import KnowledgeBase
from imaradesk.services import answering_settings
from imaradesk.settings import Settings
from imaradesk.storage.db import Database
from imaradesk.storage.repositories import OrgData
from tests.helpers import WALLET_FAQ, CountingEmbedder, seed_org


def another_process(services, embedder=None) -> KnowledgeBase:  # noqa: ANN001
    """A second KnowledgeBase on the same database and files, as another process would have."""
    settings: Settings = services.settings
    return KnowledgeBase(
        database=services.database,
        embedder=embedder or services.embedder,
        index_dir=settings.index_dir,
        answering=answering_settings(settings),
        clock=services.clock,
    )


def test_exact_question_is_answered_and_cites_its_entry(make_services, database: Database) -> None:
    services = make_services(database)
    org = seed_org(services, "acme")
    result = services.knowledge.search(
        org.id, "How do I check my balance?", revision=org.kb_revision
    )
    assert result.confident
    assert result.best.external_id == "balance"
    assert result.best.answer.startswith("Dial *483*1#")


def test_reimport_updates_instead_of_duplicating(make_services, database: Database) -> None:
    embedder = CountingEmbedder()
    services = make_services(database, embedder=embedder)
    org = seed_org(services, "acme")
    first_embedded = len(embedder.embedded)
    assert first_embedded == 5

    report = services.knowledge.import_documents(
        org.id, [parse_csv(WALLET_FAQ.encode(), "acme.csv")]
    )
    assert (report.change.created, report.change.updated, report.change.unchanged) == (0, 0, 4)
    assert services.organizations.by_slug("acme").kb_revision == org.kb_revision, (
        "no change, no new revision"
    )

    changed = WALLET_FAQ.replace("to see your balance.", "or open the app.")
    report = services.knowledge.import_documents(org.id, [parse_csv(changed.encode(), "acme.csv")])
    assert (report.change.created, report.change.updated) == (0, 1)
    assert len(embedder.embedded) == first_embedded, "an answer change re-embeds nothing"
    with database.read() as session:
        entries = OrgData(session, org.id).entries()
    assert len(entries) == 4
    assert next(e for e in entries if e.external_id == "balance").answer.endswith(
        "or open the app."
    )


def test_reimport_removes_entries_dropped_from_the_file(make_services, database: Database) -> None:
    services = make_services(database)
    org = seed_org(services, "acme")
    without_fees = "\n".join(
        line for line in WALLET_FAQ.splitlines() if not line.startswith("fees,")
    )
    report = services.knowledge.import_documents(
        org.id, [parse_csv(without_fees.encode(), "acme.csv")]
    )
    assert report.change.removed == 1
    fresh = services.organizations.by_slug("acme")
    result = services.knowledge.search(
        fresh.id, "How much does it cost to send money?", revision=fresh.kb_revision
    )
    assert all(c.entry.external_id != "fees" for c in result.candidates)
    # Another file's entries are not touched by pruning this one.
    other = parse_csv(b"question,answer\nWhere are you?,Nairobi.\n", "other.csv")
    services.knowledge.import_documents(org.id, [other])
    services.knowledge.import_documents(org.id, [parse_csv(without_fees.encode(), "acme.csv")])
    with database.read() as session:
        assert "Where are you?" in [e.question for e in OrgData(session, org.id).entries()]


def test_a_new_phrasing_is_embedded_alone_and_found(make_services, database: Database) -> None:
    embedder = CountingEmbedder()
    services = make_services(database, embedder=embedder)
    org = seed_org(services, "acme")
    embedder.embedded.clear()
    more = WALLET_FAQ + "balance,Account,Nataka kujua salio langu,\n"
    services.knowledge.import_documents(org.id, [parse_csv(more.encode(), "acme.csv")])
    assert embedder.embedded == ["Nataka kujua salio langu"]
    fresh = services.organizations.by_slug("acme")
    result = services.knowledge.search(
        fresh.id, "Nataka kujua salio langu", revision=fresh.kb_revision
    )
    assert result.confident and result.best.external_id == "balance"


def test_index_persists_and_another_process_loads_it_without_embedding(
    make_services, database: Database
) -> None:
    services = make_services(database)
    org = seed_org(services, "acme")
    files = sorted(p.name for p in (services.settings.index_dir / f"org-{org.id}").iterdir())
    assert files == ["answer_model.npz", "lexical.bm25", "manifest.json", "vectors.faiss"]
    counting = CountingEmbedder()
    other = another_process(services, counting)
    snapshot = other.snapshot(org.id, revision=org.kb_revision)
    assert counting.embedded == [], "loaded from disk, not rebuilt"
    assert len(snapshot.entry_of) == 5


def test_an_import_by_another_process_is_seen_at_the_next_search(
    make_services, database: Database
) -> None:
    services = make_services(database)
    org = seed_org(services, "acme")
    services.knowledge.search(org.id, "warm", revision=org.kb_revision)
    other = another_process(services)
    other.import_documents(
        org.id, [parse_csv(b"question,answer\nDo you sell solar lamps?,Yes we do.\n", "lamps.csv")]
    )
    fresh = services.organizations.by_slug("acme")
    assert fresh.kb_revision > org.kb_revision
    result = services.knowledge.search(
        fresh.id, "Do you sell solar lamps?", revision=fresh.kb_revision
    )
    assert result.confident and result.best.answer == "Yes we do."


def test_missing_or_corrupt_files_are_rebuilt_from_the_database(
    make_services, database: Database
) -> None:
    services = make_services(database)
    org = seed_org(services, "acme")
    directory: Path = services.settings.index_dir / f"org-{org.id}"
    (directory / "vectors.faiss").write_bytes(b"garbage")
    other = another_process(services)
    result = other.search(org.id, "How do I check my balance?", revision=org.kb_revision)
    assert result.confident and result.best.external_id == "balance"
    assert (directory / "vectors.faiss").read_bytes() != b"garbage"


def test_a_changed_model_never_uses_old_vectors(make_services, database: Database) -> None:
    services = make_services(database)
    org = seed_org(services, "acme")
    other = another_process(services, HashingEmbedder(dimension=128))
    snapshot = other.snapshot(org.id, revision=org.kb_revision)
    assert snapshot.index.dimension == 128


def test_knowledge_is_per_organization(make_services, database: Database) -> None:
    services = make_services(database)
    acme = seed_org(services, "acme")
    school = seed_org(
        services, "school", faq_csv="question,answer\nWhen does term start?,In January.\n"
    )
    result = services.knowledge.search(
        school.id, "How do I check my balance?", revision=school.kb_revision
    )
    assert all(c.entry.answer == "In January." for c in result.candidates)
    assert not result.confident
    assert (
        services.knowledge.search(
            acme.id, "When does term start?", revision=acme.kb_revision
        ).best.answer
        != "In January."
    )


def test_a_reused_row_id_never_brings_back_a_deleted_phrasings_vector(
    make_services, sqlite_database
) -> None:  # noqa: ANN001
    # SQLite gives a new row the id of the highest deleted one; the index must notice the text changed.
    services = make_services(sqlite_database)
    two = "question,answer\nHow do I check my balance?,Dial *483*1#.\nHow do I apply for a loan?,Dial *483*3#.\n"
    org = seed_org(services, "acme", faq_csv=two)
    services.knowledge.import_documents(
        org.id,
        [
            parse_csv(b"question,answer\nHow do I check my balance?,Dial *483*1#.\n", "acme.csv"),
            parse_csv(b"question,answer\nMy phone was stolen,Call us at once.\n", "other.csv"),
        ],
    )
    with sqlite_database.read() as session:
        texts = {p.id: p.text for p in OrgData(session, org.id).phrasings()}
    assert max(texts) == 2 and texts[2] == "My phone was stolen", (
        "the loan's id went to the new phrasing"
    )
    fresh = services.organizations.by_slug("acme")
    loan = services.knowledge.search(
        fresh.id, "How do I apply for a loan?", revision=fresh.kb_revision
    )
    assert not (loan.confident and loan.best.answer == "Call us at once.")
    stolen = services.knowledge.search(fresh.id, "My phone was stolen", revision=fresh.kb_revision)
    assert stolen.confident and stolen.best.answer == "Call us at once."

"""Import, incremental re-indexing, persistence and staleness of the knowledge base."""

from __future__ import annotations

import random
import re
from dataclasses import replace
from pathlib import Path

import pytest

from imaradesk.knowledge_index.curation import EntryEdit
from imaradesk.knowledge_index.documents import parse_bytes, parse_csv
from imaradesk.knowledge_index.embedder import HashingEmbedder
from imaradesk.knowledge_index.knowledge_base import KnowledgeBase
from imaradesk.knowledge_index.lexical import LexicalIndex
from imaradesk.services import answering_settings
from imaradesk.settings import Settings
from imaradesk.storage.db import Database
from imaradesk.storage.encryption import EncryptionError
from imaradesk.storage.repositories import OrgData
from tests.helpers import SCHOOL_FAQ, WALLET_FAQ, CountingEmbedder, seed_org


def another_process(services, embedder=None, **answering) -> KnowledgeBase:
    """A second KnowledgeBase on the same database and files, as another process would have
    (``answering`` overrides its settings, as another configuration would)."""
    settings: Settings = services.settings
    return KnowledgeBase(
        database=services.database,
        embedder=embedder or services.embedder,
        index_dir=settings.index_dir,
        answering=replace(answering_settings(settings), **answering),
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
) -> None:
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


# -- hybrid retrieval ---------------------------------------------------------------------------

CODES = ("E104", "E231", "E305", "E412", "E517", "E630")
# Words customers put around any error code, in any order.
CODE_WORDS = ("error", "app", "shows", "my", "phone", "payment", "failed", "help")
TOPICS = {
    "balance": "check my balance",
    "statement": "get a statement of my account",
    "pin": "reset my PIN",
}
TOPIC_TEMPLATES = (
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


class CodeBlindEmbedder(HashingEmbedder):
    """Embeds text with its codes removed: a model that blurs product codes and error numbers
    (what sentence embeddings do with rare tokens), to show what BM25 adds."""

    @property
    def name(self) -> str:
        return "code-blind-hashing"

    def embed(self, texts):
        return super().embed([re.sub(r"\S*\d\S*", " ", t) for t in texts])


def codes_faq() -> str:
    """Six error codes asked about in the same words, and three ordinary topics."""
    rng = random.Random(7)
    rows = ["id,category,question,answer"]
    for code in CODES:
        for i in range(12):
            words = [*rng.sample(CODE_WORDS, 3), code]
            rng.shuffle(words)
            answer = f"What to do about error {code}." if i == 0 else ""
            rows.append(f"{code.lower()},Errors,{' '.join(words)},{answer}")
    for key, topic in TOPICS.items():
        for i, template in enumerate(TOPIC_TEMPLATES):
            answer = f"How to {topic}." if i == 0 else ""
            rows.append(f"{key},Account,{template.format(t=topic)},{answer}")
    return "\n".join(rows) + "\n"


NEW_CODE_QUESTIONS = ("my phone shows {c} error", "payment failed {c}", "help {c} app")


def test_hybrid_answers_code_questions_that_dense_cannot_tell_apart(
    make_services, sqlite_database: Database
) -> None:
    """Questions naming an error code, in words never seen, to a knowledge base whose entries
    differ only by their codes: with an embedder blind to codes, dense retrieval cannot pick
    (and its calibration knows it), while hybrid retrieval learns from the held-out folds that
    BM25 decides, and answers from the right entry."""
    results = {}
    for mode in ("dense", "hybrid"):
        services = make_services(sqlite_database, embedder=CodeBlindEmbedder(), retrieval_mode=mode)
        org = seed_org(services, f"codes-{mode}", faq_csv=codes_faq())
        right = 0
        for code in CODES:
            for template in NEW_CODE_QUESTIONS:
                result = services.knowledge.search(
                    org.id, template.format(c=code), revision=org.kb_revision
                )
                right += result.confident and result.best.external_id == code.lower()
                if mode == "hybrid":
                    # Shown in the "try it" box with its BM25 score, whatever the fused order.
                    shown = [c for c in result.candidates if c.entry.external_id == code.lower()]
                    assert shown and shown[0].lexical > 0 and shown[0].fused
                else:
                    assert result.candidates[0].lexical is None
        results[mode] = right
        assert services.knowledge.snapshot(org.id).report.method.endswith("calibrated_classifier")
    questions = len(CODES) * len(NEW_CODE_QUESTIONS)
    assert results["hybrid"] >= 0.8 * questions, results
    assert results["dense"] <= 0.3 * questions, results


def test_hybrid_candidates_carry_similarity_lexical_and_fused_scores(
    make_services, database: Database
) -> None:
    """The "try it" box shows all three per entry: the dense cosine is still the similarity."""
    services = make_services(database)
    org = seed_org(services, "acme")
    result = services.knowledge.search(org.id, "reset my PIN please", revision=org.kb_revision)
    first = result.candidates[0]
    assert first.entry.external_id == "reset-pin"
    assert 0 < first.similarity <= 1 and first.lexical > 0
    assert first.fused == pytest.approx(0.9 * first.similarity + 0.1 * 1.0)
    fused = [c.fused for c in result.candidates]
    assert fused == sorted(fused, reverse=True)
    no_words = [c for c in result.candidates if c.lexical == 0]
    assert all(c.fused == pytest.approx(0.9 * c.similarity) for c in no_words)


def test_dense_mode_keeps_no_lexical_index(make_services, database: Database) -> None:
    services = make_services(database, retrieval_mode="dense")
    org = seed_org(services, "acme")
    directory = services.settings.index_dir / f"org-{org.id}"
    assert not (directory / "lexical.bm25").exists()
    result = services.knowledge.search(org.id, "I forgot my PIN", revision=org.kb_revision)
    assert result.confident and result.best.external_id == "reset-pin"
    assert all(c.lexical is None and c.fused is None for c in result.candidates)


def test_switching_to_dense_deletes_the_lexical_file(make_services, database: Database) -> None:
    """A lexical file left behind would keep the phrasings' words after they are removed."""
    services = make_services(database)
    org = seed_org(services, "acme")
    directory = services.settings.index_dir / f"org-{org.id}"
    assert (directory / "lexical.bm25").exists()
    dense = another_process(services, retrieval_mode="dense")
    dense.snapshot(org.id, revision=org.kb_revision)
    assert not (directory / "lexical.bm25").exists()


def open_lexical(services, org_id: int) -> LexicalIndex:
    path = services.settings.index_dir / f"org-{org_id}" / "lexical.bm25"
    data = services.database.keystore.open_bytes(org_id, path.read_bytes(), "index/lexical.bm25")
    return LexicalIndex.from_bytes(data)


def test_lexical_index_is_sealed_and_loaded_by_another_process_without_rebuilding(
    make_services, database: Database
) -> None:
    services = make_services(database)
    org = seed_org(services, "acme", faq_csv=WALLET_FAQ + "fees,Fees,Ada ya Fuliza ni ngapi,\n")
    path = services.settings.index_dir / f"org-{org.id}" / "lexical.bm25"
    raw = path.read_bytes()
    assert b"fuliza" not in raw.lower() and b"balance" not in raw.lower(), "sealed, not plain"
    before = services.knowledge.search(org.id, "ada ya fuliza", revision=org.kb_revision)

    counting = CountingEmbedder()
    other = another_process(services, counting)
    snapshot = other.snapshot(org.id, revision=org.kb_revision)
    assert counting.embedded == [], "loaded from disk, not rebuilt"
    assert snapshot.lexical is not None and "fuliza" in snapshot.lexical.vocabulary()
    after = other.search(org.id, "ada ya fuliza", revision=org.kb_revision)
    assert after.judgement == before.judgement
    assert [(c.entry.entry_id, c.lexical, c.fused) for c in after.candidates] == [
        (c.entry.entry_id, c.lexical, c.fused) for c in before.candidates
    ]
    assert after.best.external_id == "fees"


def test_a_corrupt_lexical_file_is_rebuilt(make_services, database: Database) -> None:
    services = make_services(database)
    org = seed_org(services, "acme")
    path = services.settings.index_dir / f"org-{org.id}" / "lexical.bm25"
    path.write_bytes(b"garbage")
    other = another_process(services)
    result = other.search(org.id, "How do I check my balance?", revision=org.kb_revision)
    assert result.confident and result.best.external_id == "balance"
    assert "balance" in open_lexical(services, org.id).vocabulary()


def test_removed_and_deleted_entries_leave_the_lexical_index_and_its_file(
    make_services, database: Database
) -> None:
    """Removing knowledge must remove its words from every store, the sealed file included."""
    services = make_services(database)
    extra = "loans,Loans,How do I repay my Fuliza overdraft?,Top up your wallet.\n"
    org = seed_org(services, "acme", faq_csv=WALLET_FAQ + extra)
    assert "fuliza" in open_lexical(services, org.id).vocabulary()

    services.knowledge.import_documents(org.id, [parse_csv(WALLET_FAQ.encode(), "acme.csv")])
    assert "fuliza" not in open_lexical(services, org.id).vocabulary()
    fresh = services.organizations.by_slug("acme")
    result = services.knowledge.search(fresh.id, "fuliza overdraft", revision=fresh.kb_revision)
    assert all(c.entry.external_id != "loans" and not c.lexical for c in result.candidates)

    balance = next(
        e.id for e in services.curation.entries(org.id).entries if e.external_id == "balance"
    )
    assert services.curation.delete_entry(org.id, balance)
    assert "balance" not in open_lexical(services, org.id).vocabulary()

    services.knowledge.erase_organization(org.id)
    assert not (services.settings.index_dir / f"org-{org.id}").exists()


def test_a_disabled_entry_leaves_the_lexical_index(make_services, database: Database) -> None:
    services = make_services(database)
    org = seed_org(services, "acme")
    pin = next(e for e in services.curation.entries(org.id).entries if e.external_id == "reset-pin")
    services.curation.update_entry(org.id, pin.id, EntryEdit(enabled=False))
    assert "forgot" not in open_lexical(services, org.id).vocabulary()
    fresh = services.organizations.by_slug("acme")
    result = services.knowledge.search(fresh.id, "I forgot my PIN", revision=fresh.kb_revision)
    assert all(c.entry.external_id != "reset-pin" for c in result.candidates)


def test_lexical_knowledge_is_per_organization(make_services, database: Database) -> None:
    """A word only one organization's FAQ has scores nothing in another's, and one
    organization's lexical file cannot be opened with another's key."""
    services = make_services(database)
    acme = seed_org(services, "acme", faq_csv=WALLET_FAQ + "fees,Fees,Ada ya Fuliza ni ngapi,\n")
    school = seed_org(services, "school", faq_csv=SCHOOL_FAQ)
    result = services.knowledge.search(school.id, "ada ya fuliza", revision=school.kb_revision)
    assert all(c.entry.answer.startswith(("Term", "Pay school")) for c in result.candidates)
    assert all(not c.lexical for c in result.candidates)
    assert "fuliza" not in open_lexical(services, school.id).vocabulary()
    path = services.settings.index_dir / f"org-{acme.id}" / "lexical.bm25"
    with pytest.raises(EncryptionError):
        services.database.keystore.open_bytes(school.id, path.read_bytes(), "index/lexical.bm25")


def test_passages_work_with_hybrid_retrieval(make_services, database: Database) -> None:
    """Passages of a long document are one phrasing each: the small-FAQ rule decides, and a
    passage naming a rare term is the first candidate for it."""
    services = make_services(database)
    org = seed_org(services, "acme", faq_csv=None)
    paragraphs = [
        "Fuliza is an overdraft that completes a payment when your balance is short. "
        + "You repay it automatically when money next arrives in your wallet. " * 6,
        "Agents in every county accept deposits and withdrawals during opening hours. "
        + "Bring your national ID when you visit an agent for the first time. " * 6,
    ]
    document = parse_bytes("guide.txt", "\n\n".join(paragraphs).encode())
    services.knowledge.import_documents(org.id, [document])
    fresh = services.organizations.by_slug("acme")
    snapshot = services.knowledge.snapshot(fresh.id, revision=fresh.kb_revision)
    assert {e.kind for e in snapshot.entries.values()} == {"passage"}
    assert snapshot.report.method == "similarity_margin"
    result = services.knowledge.search(fresh.id, "fuliza", revision=fresh.kb_revision)
    assert result.candidates[0].entry.answer.startswith("Fuliza")
    assert result.candidates[0].lexical > 0


def test_a_large_upload_answers_exact_phrasings_while_its_model_is_calibrated(
    make_services, sqlite_database: Database
) -> None:
    """Between embedding and the end of calibration, a big knowledge base already answers a
    question as written in it (strict rule), and not a vague one; then the calibrated model
    takes over. Proves new knowledge is answerable before the slowest step ends."""
    services = make_services(sqlite_database)
    org = seed_org(services, "bank", faq_csv=None)
    rng = random.Random(3)

    def word() -> str:
        return "".join(rng.choice("bcdfghjklmnpqrstvwz") + rng.choice("aeiou") for _ in range(4))

    nouns, verbs = [word() for _ in range(60)], [word() for _ in range(40)]
    rows = ["id,question,answer"]
    for entry, noun in enumerate(nouns):
        for verb in verbs:
            rows.append(f"e{entry},How do I {verb} my {noun}?,Answer {entry}.")
    document = parse_csv(("\n".join(rows) + "\n").encode(), "big.csv")
    with services.database.write() as session:
        OrgData(session, org.id).sync_entries(
            document.drafts, source="big.csv", now=services.clock.now(), prune_missing=True
        )
    revision = services.organizations.by_slug("bank").kb_revision
    seen: list[tuple[str, bool, bool]] = []

    def during_calibration(snapshot) -> None:
        exact = services.knowledge.search(
            org.id, f"How do I {verbs[3]} my {nouns[7]}?", revision=revision
        )
        vague = services.knowledge.search(
            org.id, f"I have a question about {verbs[3]}", revision=revision
        )
        seen.append((snapshot.model.method, exact.confident, vague.confident))

    final = services.knowledge.refresh(org.id, on_interim=during_calibration)
    assert seen == [("similarity_margin_interim", True, False)]
    assert final.model.method != "similarity_margin_interim"

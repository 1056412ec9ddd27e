"""Entries carry the language of their answer and answers in other languages: read from CSV,
stored sealed, kept across re-imports and snapshots, and picked by ``answer_in``."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from imaradesk.knowledge_index.documents import ImportFormatError, parse_csv
from imaradesk.knowledge_index.drafts import language_code
from imaradesk.storage.db import Database
from tests.helpers import seed_org

BILINGUAL = """id,category,language,question,answer,answer_sw
balance,Account,en,How do I check my balance?,Dial *483*1#.,Piga *483*1#.
balance,Account,sw,Nitaangaliaje salio langu?,,
send,Payments,sw,Nitatumaje pesa?,Chagua Tuma Pesa.,
send,Payments,en,How do I send money?,Choose Send Money.,
"""


def test_a_csv_gives_each_entry_its_answer_language_and_translations() -> None:
    drafts = {d.external_id: d for d in parse_csv(BILINGUAL.encode(), "faq.csv").drafts}
    balance, send = drafts["balance"], drafts["send"]
    # The column gives the Swahili answer; the Swahili row's question is one more phrasing.
    assert (balance.language, balance.answer) == ("en", "Dial *483*1#.")
    assert balance.translations == (("sw", "Piga *483*1#."),)
    assert balance.questions == ("How do I check my balance?", "Nitaangaliaje salio langu?")
    # Its first question in Swahili is how choices are listed to a Swahili speaker.
    assert balance.question_translations == (("sw", "Nitaangaliaje salio langu?"),)
    # An entry whose first answer is Swahili is a Swahili entry with an English translation.
    assert (send.language, send.answer) == ("sw", "Chagua Tuma Pesa.")
    assert send.translations == (("en", "Choose Send Money."),)


def test_question_columns_add_phrasings_in_their_language() -> None:
    data = (
        b"id,question,answer,question_sw\nbal,How do I check my balance?,Dial *1#.,Salio langu?\n"
    )
    (draft,) = parse_csv(data, "faq.csv").drafts
    assert draft.questions == ("How do I check my balance?", "Salio langu?")


@pytest.mark.parametrize(
    ("csv_text", "message"),
    [
        ("question,answer,answer_xyz1\nQ?,A.,B.\n", "answer_ must be followed by a language code"),
        ("language,question,answer\nklingon-ish,Q?,A.\n", "unknown language"),
        ("question,answer,answer_sw\nQ?,A.," + "x" * 20001 + "\n", "answer_sw is longer than"),
        (
            "id,language,question,answer\na,sw,Q?,Jibu moja.\na,sw,Q2?,Jibu jingine.\n",
            "different answer on line 2",
        ),
        (
            "id,language,question,answer,answer_sw\na,en,Q?,A.,Jibu moja.\na,sw,S?,Jibu jingine.,\n",
            "different answer in sw on line 2",
        ),
    ],
)
def test_bad_language_columns_are_refused_with_the_line(csv_text: str, message: str) -> None:
    with pytest.raises(ImportFormatError, match=message):
        parse_csv(csv_text.encode(), "faq.csv")


def test_language_names_map_to_codes_and_sheng_counts_as_swahili() -> None:
    assert [language_code(x) for x in ("sw", "Kiswahili", "SHENG", "en-GB", "english")] == [
        "sw",
        "sw",
        "sw",
        "en",
        "en",
    ]
    assert language_code("not a language") is None


def test_translations_are_sealed_at_rest_and_reach_the_snapshot(
    make_services, database: Database
) -> None:
    services = make_services(database)
    org = seed_org(services, "acme", faq_csv=BILINGUAL)
    snapshot = services.knowledge.snapshot(org.id)
    balance = next(e for e in snapshot.entries.values() if e.external_id == "balance")
    assert balance.answer_in("sw") == ("Piga *483*1#.", "sw")
    # No translation in a language: the primary answer, and its language, so callers can say so.
    assert balance.answer_in("fr") == ("Dial *483*1#.", "en")
    assert balance.languages == ("en", "sw")
    assert balance.question_in("sw") == "Nitaangaliaje salio langu?"
    assert balance.question_in("en") == "How do I check my balance?"
    with database.engine.connect() as connection:
        answers, questions = connection.execute(
            text(
                "SELECT answer_translations, question_translations FROM knowledgeentry "
                "WHERE external_id = 'balance'"
            )
        ).one()
    assert "Piga" not in answers, "the Swahili answer must be sealed like the English one"
    assert "salio" not in questions, "and the Swahili question like the English one"

    # Reloaded from the sealed files by another process: the translations come back.
    services.knowledge.forget(org.id)
    reloaded = services.knowledge.snapshot(org.id)
    assert reloaded.entries[balance.entry_id].translations == (("sw", "Piga *483*1#."),)
    assert reloaded.entries[balance.entry_id].question_in("sw") == "Nitaangaliaje salio langu?"


def test_changing_only_a_translation_is_an_update(make_services, database: Database) -> None:
    services = make_services(database)
    org = seed_org(services, "acme", faq_csv=BILINGUAL)
    changed = BILINGUAL.replace("Piga *483*1#.", "Piga *483*1# bure.")
    report = services.knowledge.import_documents(org.id, [parse_csv(changed.encode(), "acme.csv")])
    assert (report.change.updated, report.change.unchanged) == (1, 1)
    snapshot = services.knowledge.snapshot(org.id)
    balance = next(e for e in snapshot.entries.values() if e.external_id == "balance")
    assert balance.answer_in("sw")[0] == "Piga *483*1# bure."

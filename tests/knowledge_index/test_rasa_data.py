"""Reading Rasa training data: intents become entries answered by their responses, nothing is
dropped without a warning, and malformed files are refused with the line at fault."""

from __future__ import annotations

from pathlib import Path

import pytest

from imaradesk.knowledge_index.documents import ImportFormatError
from imaradesk.knowledge_index.rasa_data import (
    RasaImport,
    is_rasa_path,
    load_rasa_files,
    parse_rasa,
)

NLU = """\
version: "3.1"
nlu:
- intent: check_balance
  examples: |
    - how much money is in my [savings](account) account
    - what is my balance
    - show my balance in [Nairobi]{"entity": "city", "role": "home"}
- intent: greet
  examples: |
    - hi
    - hello
    - Hi
- intent: report_fraud
  examples: |
    - someone stole my money
- synonym: savings
  examples: |
    - pink pig
    - piggy bank
- lookup: banks
  examples: |
    - KCB
- regex: account_number
  examples: |
    - \\d{10}
- intent: faq/ask_fees
  examples:
  - text: how much are the fees
  - text: |
      what does it cost to send to [NBO]{"entity": "city", "value": "Nairobi"}
"""

DOMAIN = """\
version: "3.1"
intents:
  - greet
  - check_balance
  - report_fraud
  - faq
  - say_thanks:
      use_entities: []
responses:
  utter_greet:
  - text: Hello! How can I help?
  - text: Hi there!
  utter_show_balance:
  - text: Dial *483*1# to see your balance.
  utter_faq/ask_fees:
  - text: Sending up to KES 100 is free on WhatsApp.
    channel: whatsapp
  - text: Sending up to KES 100 is free.
  utter_picture:
  - image: https://example.com/pic.png
"""

RULES = """\
version: "3.1"
rules:
- rule: balance
  steps:
  - intent: check_balance
  - action: utter_show_balance
"""


def parse(*files: tuple[str, str]) -> RasaImport:
    return parse_rasa((name, text.encode()) for name, text in files)


def by_id(result: RasaImport) -> dict[str, object]:
    return {d.external_id: d for doc in result.documents for d in doc.drafts}


def test_intents_with_a_response_become_entries_with_their_examples_as_questions() -> None:
    """An intent's examples are its questions (annotations reduced to their text), its answer is
    utter_<intent>'s first text; entries are of kind 'intent' named by the intent."""
    result = parse(("nlu.yml", NLU), ("domain.yml", DOMAIN), ("rules.yml", RULES))
    [document] = result.documents
    assert document.source == "nlu.yml"
    entries = by_id(result)
    greet = entries["greet"]
    assert greet.questions == ("hi", "hello")  # "Hi" folds into "hi"
    assert greet.answer == "Hello! How can I help?"
    assert greet.kind == "intent"
    assert greet.line == 8
    balance = entries["check_balance"]
    assert "show my balance in Nairobi" in balance.questions
    assert "how much money is in my savings account" in balance.questions
    assert not any("[" in q or "{" in q for q in balance.questions)


def test_a_response_mapped_by_a_rule_answers_an_intent_without_its_own_utter() -> None:
    """check_balance has no utter_check_balance; the rule that runs utter_show_balance after it
    gives its answer."""
    entries = by_id(parse(("nlu.yml", NLU), ("domain.yml", DOMAIN), ("rules.yml", RULES)))
    assert entries["check_balance"].answer == "Dial *483*1# to see your balance."


def test_synonyms_add_phrasings_where_an_example_contains_one_of_their_words() -> None:
    """The synonym 'savings' (pink pig, piggy bank) and the annotation value NBO -> Nairobi
    turn one example into variants, so retrieval knows the customer's words too."""
    entries = by_id(parse(("nlu.yml", NLU), ("domain.yml", DOMAIN), ("rules.yml", RULES)))
    balance = entries["check_balance"].questions
    assert "how much money is in my pink pig account" in balance
    assert "how much money is in my piggy bank account" in balance
    fees = entries["faq/ask_fees"].questions
    assert fees == (
        "how much are the fees",
        "what does it cost to send to NBO",
        "what does it cost to send to Nairobi",
    )


def test_retrieval_intents_take_their_group_as_category_and_the_general_text_variant() -> None:
    """A variant restricted to one channel is not the answer when a general one exists."""
    fees = by_id(parse(("nlu.yml", NLU), ("domain.yml", DOMAIN)))["faq/ask_fees"]
    assert fees.category == "faq"
    assert fees.answer == "Sending up to KES 100 is free."


def test_what_is_left_out_is_reported_not_silently_dropped() -> None:
    result = parse(("nlu.yml", NLU), ("domain.yml", DOMAIN))
    assert "report_fraud" not in by_id(result)
    text = "\n".join(result.warnings)
    assert "intent 'report_fraud' skipped: no response utter_report_fraud" in text
    # Without the rules file check_balance has no answer either.
    assert "intent 'check_balance' skipped" in text
    assert "lookup 'banks' skipped" in text
    assert "regex 'account_number' skipped" in text
    assert "response 'utter_picture' has no text variant" in text
    assert "intent 'say_thanks' is in the domain but has no examples" in text
    # The retrieval intent group "faq" is listed by its group name only: not a missing intent.
    assert "intent 'faq' is in the domain" not in text


def test_files_are_recognised_by_content_in_any_order(tmp_path: Path) -> None:
    for name, text in (("data.yml", NLU), ("my-domain.yaml", DOMAIN), ("rules.yml", RULES)):
        (tmp_path / name).write_text(text)
    forward = load_rasa_files(
        [tmp_path / "data.yml", tmp_path / "my-domain.yaml", tmp_path / "rules.yml"]
    )
    backward = load_rasa_files(
        [tmp_path / "rules.yml", tmp_path / "my-domain.yaml", tmp_path / "data.yml"]
    )
    assert forward.documents == backward.documents
    assert sorted(forward.warnings) == sorted(backward.warnings)
    assert {d.external_id for d in forward.documents[0].drafts} == {
        "greet",
        "check_balance",
        "faq/ask_fees",
    }
    assert is_rasa_path(tmp_path / "nlu.yml") and is_rasa_path(Path("x.YAML"))
    assert not is_rasa_path(Path("faq.csv"))


def test_intents_from_several_nlu_files_keep_their_own_source() -> None:
    """Each NLU file is a source of its own, so re-importing one prunes only its entries."""
    more = "nlu:\n- intent: say_thanks\n  examples: |\n    - thanks\n    - asante\n"
    domain = DOMAIN + "  utter_say_thanks:\n  - text: Karibu!\n"
    result = parse(("a.yml", NLU), ("b.yml", more), ("domain.yml", domain))
    assert {d.source: [e.external_id for e in d.drafts] for d in result.documents} == {
        "a.yml": ["greet", "faq/ask_fees"],
        "b.yml": ["say_thanks"],
    }


def test_examples_as_metadata_items_and_slots_are_noted() -> None:
    nlu = "nlu:\n- intent: name\n  examples:\n  - text: who am I\n    metadata: {a: 1}\n"
    domain = "responses:\n  utter_name:\n  - text: You are {name}.\n"
    result = parse(("nlu.yml", nlu), ("domain.yml", domain))
    assert by_id(result)["name"].questions == ("who am I",)
    assert any("names a slot" in w for w in result.warnings)


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("nlu:\n- intent: a\n  examples: [unclosed\n", 4, "malformed YAML"),
        ("nlu:\n- intent: a\n  examples: |\n    - fine\n    not a list item\n", 5, "'- '"),
        ("nlu:\n- intent: a\n  examples: |\n    - fine\n- intent: b\n", 5, "no 'examples'"),
        ("nlu:\n- intent: ''\n  examples: |\n    - x\n", 2, "non-empty"),
        ("nlu:\n- intentt: a\n  examples: |\n    - x\n", 2, "must name an intent"),
        ("nlu: hello\n", 1, "'nlu' must be a list"),
        ("version: '3.1'\nsomething: else\n", 1, "not Rasa training data"),
        ("- just\n- a list\n", 0, "not Rasa training data"),
        (
            'nlu:\n- intent: a\n  examples: |\n    - x [y]{"entity": oops}\n',
            4,
            "malformed entity annotation",
        ),
        ("nlu:\n- intent: a\n  examples: |\n    - " + "x" * 1001 + "\n", 4, "longer than"),
        (b"nlu:\n- intent: \xff\n".decode("latin-1"), 0, ""),
    ],
)
def test_malformed_files_are_refused_with_the_line(text: str, line: int, message: str) -> None:
    data = text.encode("latin-1") if "\xff" in text else text.encode()
    with pytest.raises(ImportFormatError) as excinfo:
        parse_rasa([("nlu.yml", data), ("domain.yml", DOMAIN.encode())])
    if message:
        assert message in excinfo.value.message
        assert excinfo.value.line == line
    else:
        assert "UTF-8" in excinfo.value.message and excinfo.value.line == 2


def test_a_domain_without_nlu_data_or_nlu_without_responses_is_refused() -> None:
    with pytest.raises(ImportFormatError, match="name the NLU file"):
        parse(("domain.yml", DOMAIN))
    with pytest.raises(ImportFormatError, match="name the domain file"):
        parse(("nlu.yml", NLU))


def test_rasa_data_imports_into_the_knowledge_base_and_answers(make_services) -> None:
    """The parsed documents go through the ordinary import path and the bot answers from them."""
    from tests.helpers import Chat, seed_org

    services = make_services()
    org = seed_org(services, "rasa-org", faq_csv=None)
    result = parse(("nlu.yml", NLU), ("domain.yml", DOMAIN), ("rules.yml", RULES))
    report = services.knowledge.import_documents(org.id, result.documents)
    assert report.entries == 3
    replies = Chat(services, "rasa-org").texts("what is my balance")
    assert "Dial *483*1# to see your balance." in replies

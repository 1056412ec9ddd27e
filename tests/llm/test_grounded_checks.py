"""The checks a generated answer must pass before a customer sees it, and how it is cited.

Pure functions: what the model wrote in, the reply (or a refusal) out.
"""

from __future__ import annotations

import pytest

from imaradesk.knowledge_index.knowledge_base import EntryInfo
from imaradesk.llm.grounded import (
    ANSWER_CHARS,
    NO_ANSWER_REPLY,
    build_prompt,
    check_answer,
    citation_label,
    cut,
    system_prompt,
)
from imaradesk.runtime.i18n import translate

PIN = EntryInfo(1, "reset-pin", "How do I reset my PIN?", "Dial *483*7#.", "Security")
FEES = EntryInfo(
    2,
    "doc:p3-1",
    "Fees > Sending",
    "Sending up to KES 100 is free.",
    "Fees",
    source="tariff.pdf",
    kind="passage",
    location="page 3, Fees > Sending",
)
ENTRIES = [PIN, FEES]


def test_a_cited_answer_gets_our_source_line_instead_of_the_marks() -> None:
    outcome, reply = check_answer("Dial *483*7# to reset it [1].", ENTRIES, "en")
    assert outcome == "ok" and reply is not None
    assert reply.text == "Dial *483*7# to reset it.\n\nSource: How do I reset my PIN?"
    assert reply.cited == (PIN,)


def test_several_citations_name_each_entry_once_documents_by_file_and_place() -> None:
    _, reply = check_answer("Reset with *483*7# [1]. Sending is free [2][1, 2].", ENTRIES, "sw")
    assert reply is not None
    assert reply.text.endswith("Chanzo: How do I reset my PIN?; tariff.pdf, page 3, Fees > Sending")
    assert reply.cited == (PIN, FEES)


@pytest.mark.parametrize(
    "text",
    [
        "Dial *483*7# [3].",  # a passage we did not give
        "Dial *483*7# [0].",
        "Dial *483*7# to reset it.",  # cites nothing: not checkably grounded
        "Call [PHONE_2] for help [1].",  # a placeholder the model made up
        "[1]",  # nothing but a citation
    ],
)
def test_answers_failing_the_checks_are_rejected(text: str) -> None:
    assert check_answer(text, ENTRIES, "en") == ("rejected", None)


@pytest.mark.parametrize("text", ["NO_ANSWER", " NO_ANSWER.", "No answer", "Sorry. NO_ANSWER"])
def test_the_no_answer_marker_becomes_our_offer(text: str) -> None:
    outcome, reply = check_answer(text, ENTRIES, "en")
    assert outcome == "no_answer" and reply is not None
    assert reply.text == translate("en", NO_ANSWER_REPLY) and not reply.answered


def test_an_answer_merely_mentioning_no_answer_is_not_the_marker() -> None:
    outcome, _ = check_answer("If there is no answer, dial *483*7# [1].", ENTRIES, "en")
    assert outcome == "ok"


def test_long_answers_are_cut_at_a_sentence_to_fit_whatsapp() -> None:
    long = " ".join(f"Step {i} is to press the green key and wait." for i in range(40)) + " [1]"
    _, reply = check_answer(long, ENTRIES, "en")
    assert reply is not None
    body, source = reply.text.split("\n\n")
    assert len(body) <= ANSWER_CHARS and body.endswith("wait.")
    assert source == "Source: How do I reset my PIN?"


def test_cut_falls_back_to_a_word_boundary() -> None:
    assert cut("a" * 10 + " " + "b" * 20, 15) == "a" * 10 + "…"
    assert cut("short", 15) == "short"


def test_the_prompt_numbers_the_passages_with_their_labels() -> None:
    prompt = build_prompt("how much to send 50 bob?", ENTRIES)
    assert prompt.startswith("Passages:\n[1] Q: How do I reset my PIN?\nA: Dial *483*7#.")
    assert "[2] (tariff.pdf, page 3, Fees > Sending)\nSending up to KES 100 is free." in prompt
    assert prompt.endswith("Customer's question:\nhow much to send 50 bob?")
    assert citation_label(FEES) == "tariff.pdf, page 3, Fees > Sending"


def test_the_instructions_name_the_language_and_the_marker() -> None:
    system = system_prompt("Imara Pesa", "sw")
    assert "Imara Pesa" in system and "Reply in Swahili" in system and "NO_ANSWER" in system

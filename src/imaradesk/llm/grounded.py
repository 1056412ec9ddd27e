"""Answers written by an LLM from the retrieved passages only, checked before they are sent.

The prompt holds the few passages retrieval found (numbered) and the customer's question; the
gateway redacts it before it leaves. The model must answer from the passages only, in the
customer's language, briefly, citing passages as "[1]", or say ``NO_ANSWER``. What comes back
is checked: a citation of a passage we did not give, an answer citing nothing or a stray
placeholder makes it a failure, and the caller sends the extractive answer instead. Citation
marks are replaced by a source line in our own words, and the text is cut to fit WhatsApp.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from imaradesk.knowledge_index.knowledge_base import EntryInfo
from imaradesk.llm.gateway import AIGateway
from imaradesk.runtime.i18n import N_, translate
from imaradesk.storage.models import Organization

PURPOSE = "grounded_answer"
NO_ANSWER = "NO_ANSWER"
MAX_PASSAGES = 3
# What the model may write, and what we send at most with the source line (WhatsApp reads
# best in short messages; Twilio would split anything over 1,600 characters).
ANSWER_CHARS = 600
_PASSAGE_CHARS = 1500
_SOURCE_CHARS = 160
_MAX_TOKENS = 400

# The model is told the customer's language by its English name.
LANGUAGES = {"en": "English", "sw": "Swahili"}
SOURCE_LINE = N_("Source: {labels}")
NO_ANSWER_REPLY = N_("I don't have that in our help articles; shall I connect you to a person?")

_CITATION = re.compile(r"\[\s*(\d+(?:\s*[,;]\s*\d+)*)\s*\]")
# A redaction placeholder the model made up (real ones are restored before the check).
_PLACEHOLDER = re.compile(r"\[[A-Z]+(?:_[A-Z]+)*_\d+\]")
_SPACE_BEFORE_PUNCTUATION = re.compile(r"\s+([.,;:!?])")
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)")

SYSTEM_PROMPT = """\
You answer customers of {org} on WhatsApp, using only the numbered passages from its help \
articles that come with the question.
- Use only what the passages say. Never add facts, numbers, links or steps of your own.
- If the passages do not answer the question, reply with exactly {marker} and nothing else.
- Reply in {language}, in plain text, in at most {chars} characters.
- Cite the passage each statement comes from by its number in square brackets, like [1].
- Placeholders such as [PHONE_1] stand for the customer's details; leave them as they are.\
"""


@dataclass(frozen=True)
class GroundedReply:
    """The text to send; ``answered`` is False when the passages did not answer."""

    text: str
    answered: bool
    cited: tuple[EntryInfo, ...] = ()


def citation_label(entry: EntryInfo) -> str:
    """How we name an entry to the customer: its question, or the document and the place."""
    if entry.kind == "faq" or not entry.source:
        return entry.question
    return f"{entry.source}, {entry.location}" if entry.location else entry.source


def build_prompt(question: str, entries: Sequence[EntryInfo]) -> str:
    """The numbered passages, each with its citation label, then the customer's question."""
    blocks = []
    for number, entry in enumerate(entries, 1):
        if entry.kind == "faq":
            body = f"Q: {entry.question}\nA: {entry.answer}"
        else:
            body = f"({citation_label(entry)})\n{entry.answer}"
        blocks.append(f"[{number}] {body[:_PASSAGE_CHARS]}")
    passages = "\n\n".join(blocks)
    return f"Passages:\n{passages}\n\nCustomer's question:\n{question}"


def system_prompt(org_name: str, language: str) -> str:
    return SYSTEM_PROMPT.format(
        org=org_name,
        marker=NO_ANSWER,
        language=LANGUAGES.get(language, "the customer's language"),
        chars=ANSWER_CHARS,
    )


def check_answer(
    text: str, entries: Sequence[EntryInfo], language: str
) -> tuple[str, GroundedReply | None]:
    """Judge the model's text: ("ok", reply), ("no_answer", reply) or ("rejected", None)."""
    if NO_ANSWER in text or text.strip(" .!\n").upper() == "NO ANSWER":
        return "no_answer", no_answer_reply(language)
    cited_numbers: list[int] = []
    for group in _CITATION.findall(text):
        cited_numbers.extend(int(n) for n in re.split(r"[,;]", group))
    if not cited_numbers or any(not 1 <= n <= len(entries) for n in cited_numbers):
        return "rejected", None
    if _PLACEHOLDER.search(text):
        return "rejected", None
    body = _SPACE_BEFORE_PUNCTUATION.sub(r"\1", _CITATION.sub("", text))
    body = " ".join(body.split())
    if len(body) < 2:
        return "rejected", None
    cited = tuple(dict.fromkeys(entries[n - 1] for n in cited_numbers))
    labels = "; ".join(dict.fromkeys(citation_label(e) for e in cited))
    source = translate(language, SOURCE_LINE, labels=cut(labels, _SOURCE_CHARS))
    return "ok", GroundedReply(f"{cut(body, ANSWER_CHARS)}\n\n{source}", True, cited)


def no_answer_reply(language: str) -> GroundedReply:
    return GroundedReply(translate(language, NO_ANSWER_REPLY), False)


def cut(text: str, limit: int) -> str:
    """``text`` within ``limit`` characters, at a sentence's end when one is near enough."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    ends = [m.end() for m in _SENTENCE_END.finditer(head)]
    if ends and ends[-1] >= limit // 2:
        return head[: ends[-1]]
    return head[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:") + "…"


class GroundedAnswers:
    """Writes an answer from the retrieved entries through the AI gateway, or gives up."""

    def __init__(self, gateway: AIGateway, *, max_passages: int = MAX_PASSAGES) -> None:
        self._gateway = gateway
        self._max_passages = max_passages

    def answer(
        self,
        org: Organization,
        *,
        question: str,
        entries: Sequence[EntryInfo],
        language: str,
        names: Iterable[str] = (),
        contact_restricted: bool = False,
    ) -> GroundedReply | None:
        """A checked reply, or None (not allowed, the provider failed, or the text failed our
        checks): then the caller's extractive answer stands."""
        passages = list(dict.fromkeys(entries))[: self._max_passages]
        if not passages or not question.strip():
            return None
        call = self._gateway.call(
            org,
            purpose=PURPOSE,
            system=system_prompt(org.name, language),
            prompt=build_prompt(question, passages),
            names=names,
            contact_restricted=contact_restricted,
            max_tokens=_MAX_TOKENS,
        )
        if call is None:
            return None
        if call.text is None:
            self._gateway.record(org, call, purpose=PURPOSE)
            return None
        outcome, reply = check_answer(call.text, passages, language)
        self._gateway.record(org, call, purpose=PURPOSE, outcome=outcome)
        return reply

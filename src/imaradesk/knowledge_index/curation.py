"""Knowledge managers' edits: list, search, add, change, disable and delete entries.

Every change rebuilds the organization's index before returning (unchanged phrasings keep
their vectors), so the bot answers from the edited knowledge at once.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from imaradesk.knowledge_index.drafts import language_code
from imaradesk.knowledge_index.errors import EntryInvalid as EntryInvalid  # re-exported
from imaradesk.knowledge_index.knowledge_base import KnowledgeBase
from imaradesk.runtime.clock import Clock
from imaradesk.storage.db import Database
from imaradesk.storage.knowledge_repository import KnowledgeData, answer_translations
from imaradesk.storage.models import KnowledgeEntry

HAND_WRITTEN_SOURCE = "added by hand"
MAX_QUESTION_CHARS = 1000
MAX_ANSWER_CHARS = 20000
MAX_PHRASINGS = 50
MAX_CATEGORY_CHARS = 200


@dataclass(frozen=True)
class EntryView:
    id: int
    external_id: str
    question: str
    answer: str
    category: str | None
    source: str
    kind: str
    location: str | None
    enabled: bool
    phrasings: tuple[str, ...]
    updated_at: datetime
    language: str = "en"
    translations: tuple[tuple[str, str], ...] = ()

    def translation(self, language: str) -> str:
        return dict(self.translations).get(language, "")


@dataclass(frozen=True)
class EntryEdit:
    """Fields to change; None leaves a field as it is."""

    question: str | None = None
    answer: str | None = None
    category: str | None = None
    phrasings: tuple[str, ...] | None = None  # other ways customers ask; the question is first
    enabled: bool | None = None
    # The language the answer is written in, and the answer in other languages: the whole set
    # (a language left out, or given an empty text, has no translation afterwards).
    language: str | None = None
    translations: tuple[tuple[str, str], ...] | None = None


@dataclass(frozen=True)
class EntryPage:
    total: int
    entries: tuple[EntryView, ...]


def _fold(text: str) -> str:
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text).casefold()).strip()


def _clean(text: str, limit: int, what: str) -> str:
    text = text.strip()
    if not text:
        raise EntryInvalid(f"the {what} cannot be empty")
    if len(text) > limit:
        raise EntryInvalid(f"the {what} is longer than {limit} characters")
    return text


class KnowledgeCuration:
    def __init__(self, *, database: Database, knowledge: KnowledgeBase, clock: Clock) -> None:
        self._db = database
        self._knowledge = knowledge
        self._clock = clock

    def entries(
        self,
        org_id: int,
        *,
        query: str = "",
        source: str | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> EntryPage:
        """Entries whose question, answer, phrasings, category or source contain every word."""
        words = _fold(query).split()
        with self._db.read() as session:
            knowledge = KnowledgeData(session, org_id)
            rows = knowledge.entries_from(source) if source is not None else knowledge.entries()
            phrasings = knowledge.phrasings_by_entry()
            matched = []
            for row in rows:
                texts = phrasings.get(row.id or -1, ())
                if words:
                    haystack = _fold(
                        " ".join([row.question, row.answer, row.category or "", row.source, *texts])
                    )
                    if not all(w in haystack for w in words):
                        continue
                matched.append(_view(row, texts))
        return EntryPage(len(matched), tuple(matched[offset : offset + limit]))

    def entry(self, org_id: int, entry_id: int) -> EntryView | None:
        with self._db.read() as session:
            knowledge = KnowledgeData(session, org_id)
            row = knowledge.entry(entry_id)
            return None if row is None else _view(row, tuple(knowledge.phrasings_of(entry_id)))

    def create_entry(self, org_id: int, edit: EntryEdit) -> EntryView:
        question = _clean(edit.question or "", MAX_QUESTION_CHARS, "question")
        answer = _clean(edit.answer or "", MAX_ANSWER_CHARS, "answer")
        phrasings = self._phrasings(question, edit.phrasings or ())
        category = self._category(edit.category)
        language = _language(edit.language or "en")
        translations = _translations(edit.translations or (), primary=language)
        now = self._clock.now()
        with self._knowledge.changing(org_id):
            with self._db.write() as session:
                knowledge = KnowledgeData(session, org_id)
                number = len(knowledge.entries()) + 1
                while knowledge.external_id_taken(f"manual-{number}"):
                    number += 1
                row = knowledge.add_entry(
                    external_id=f"manual-{number}",
                    question=question,
                    answer=answer,
                    category=category,
                    source=HAND_WRITTEN_SOURCE,
                    kind="faq",
                    enabled=True if edit.enabled is None else edit.enabled,
                    now=now,
                    language=language,
                    translations=translations,
                )
                knowledge.replace_phrasings(row, phrasings)
                entry_id = row.id
            self._knowledge.refresh(org_id)
        view = self.entry(org_id, entry_id)  # type: ignore[arg-type]
        assert view is not None
        return view

    def update_entry(self, org_id: int, entry_id: int, edit: EntryEdit) -> EntryView | None:
        with self._knowledge.changing(org_id):
            with self._db.write() as session:
                knowledge = KnowledgeData(session, org_id)
                row = knowledge.entry(entry_id)
                if row is None:
                    return None
                current = tuple(knowledge.phrasings_of(entry_id))
                question = row.question
                if edit.question is not None:
                    question = _clean(edit.question, MAX_QUESTION_CHARS, "question")
                answer = row.answer
                if edit.answer is not None:
                    answer = _clean(edit.answer, MAX_ANSWER_CHARS, "answer")
                category = row.category
                if edit.category is not None:
                    category = self._category(edit.category)
                enabled = row.enabled if edit.enabled is None else edit.enabled
                language = _language(edit.language) if edit.language is not None else row.language
                translations = (
                    _translations(edit.translations, primary=language)
                    if edit.translations is not None
                    else None
                )
                if translations == answer_translations(row) and language == row.language:
                    translations = None
                if edit.phrasings is not None:
                    phrasings = self._phrasings(question, edit.phrasings)
                elif edit.question is not None:
                    # The question is the first phrasing; the others stay.
                    phrasings = self._phrasings(question, current[1:])
                else:
                    phrasings = current
                given = (edit.question, edit.answer, edit.category, edit.enabled, translations)
                changed_fields = any(f is not None for f in given)
                if changed_fields:
                    knowledge.update_entry(
                        row,
                        question=question,
                        answer=answer,
                        category=category,
                        enabled=enabled,
                        now=self._clock.now(),
                        language=language,
                        translations=translations,
                    )
                if phrasings != current:
                    knowledge.replace_phrasings(row, phrasings)
                changed = changed_fields or phrasings != current
            if changed:
                self._knowledge.refresh(org_id)
        return self.entry(org_id, entry_id)

    def delete_entry(self, org_id: int, entry_id: int) -> bool:
        with self._knowledge.changing(org_id):
            with self._db.write() as session:
                knowledge = KnowledgeData(session, org_id)
                row = knowledge.entry(entry_id)
                if row is None:
                    return False
                knowledge.delete_entry(row)
            self._knowledge.refresh(org_id)
        return True

    @staticmethod
    def _phrasings(question: str, others: tuple[str, ...] | list[str]) -> tuple[str, ...]:
        texts = [question]
        seen = {_fold(question)}
        for text in others:
            text = _clean(text, MAX_QUESTION_CHARS, "phrasing")
            if _fold(text) not in seen:
                seen.add(_fold(text))
                texts.append(text)
        if len(texts) > MAX_PHRASINGS:
            raise EntryInvalid(f"an entry can have at most {MAX_PHRASINGS} phrasings")
        return tuple(texts)

    @staticmethod
    def _category(category: str | None) -> str | None:
        if category is None or not category.strip():
            return None
        return _clean(category, MAX_CATEGORY_CHARS, "category")


def _view(row: KnowledgeEntry, phrasings: tuple[str, ...]) -> EntryView:
    assert row.id is not None
    return EntryView(
        id=row.id,
        external_id=row.external_id,
        question=row.question,
        answer=row.answer,
        category=row.category,
        source=row.source,
        kind=row.kind,
        location=row.location,
        enabled=row.enabled,
        phrasings=phrasings or (row.question,),
        updated_at=row.updated_at,
        language=row.language,
        translations=answer_translations(row),
    )


def _language(given: str) -> str:
    code = language_code(given)
    if code is None:
        raise EntryInvalid(f"unknown language {given[:20]!r} (use a code such as en, sw)")
    return code


def _translations(
    given: tuple[tuple[str, str], ...], *, primary: str
) -> tuple[tuple[str, str], ...]:
    """The translations to store: by code, empty texts and the answer's own language dropped."""
    kept: dict[str, str] = {}
    for language, text in given:
        code = _language(language)
        if code != primary and text.strip():
            kept[code] = _clean(text, MAX_ANSWER_CHARS, f"answer in {code}")
    return tuple(sorted(kept.items()))

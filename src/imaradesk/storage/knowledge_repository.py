"""Reads and writes of one organization's knowledge entries and their phrasings.

Entry text is sealed at rest, so searching it happens on opened rows in Python, not in SQL.
Storage is the bottom layer: what the parsers produce reaches it as any object of the
``EntryDraftFields`` shape, and it never imports the knowledge index.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import delete, func, update
from sqlmodel import col, select

from imaradesk.storage.models import (
    KnowledgeEntry,
    KnowledgePhrasing,
    Message,
    Organization,
)
from imaradesk.storage.scoped import OrgScoped


class EntryConflict(ValueError):
    """A file names an entry that another document (or a person, by hand) already owns."""

    def __init__(self, external_id: str, owner: str, line: int) -> None:
        self.external_id = external_id
        self.owner = owner
        self.line = line
        super().__init__(
            f"entry {external_id!r} already comes from {owner!r}; give it another id or "
            "edit it there"
        )


def encode_translations(translations: Iterable[tuple[str, str]]) -> str | None:
    """An entry's answers in other languages as stored: a JSON object, or None for none."""
    pairs = sorted(translations)
    return json.dumps(dict(pairs), ensure_ascii=False, sort_keys=True) if pairs else None


def answer_translations(entry: KnowledgeEntry) -> tuple[tuple[str, str], ...]:
    """The (code, text) pairs of an entry's answers in other languages, sorted by code."""
    return _decode_translations(entry.answer_translations)


def question_translations(entry: KnowledgeEntry) -> tuple[tuple[str, str], ...]:
    """The (code, text) pairs of an entry's question in other languages, sorted by code."""
    return _decode_translations(entry.question_translations)


def _decode_translations(stored: str | None) -> tuple[tuple[str, str], ...]:
    if not stored:
        return ()
    return tuple(sorted((str(c), str(t)) for c, t in json.loads(stored).items()))


def _language_of(draft: EntryDraftFields) -> str:
    return str(getattr(draft, "language", "en"))


def _translations_of(draft: EntryDraftFields) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(getattr(draft, "translations", ())))


def _questions_of(draft: EntryDraftFields) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(getattr(draft, "question_translations", ())))


class EntryDraftFields(Protocol):
    """An entry as read from a file (``knowledge_index.drafts.EntryDraft`` has this shape).

    A draft may also carry ``language`` (of its answer, "en" when absent) and
    ``translations`` ((code, answer) pairs); drafts from before answers had languages do not.
    """

    @property
    def external_id(self) -> str: ...
    @property
    def questions(self) -> tuple[str, ...]: ...
    @property
    def answer(self) -> str: ...
    @property
    def category(self) -> str | None: ...
    @property
    def line(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def location(self) -> str | None: ...


@dataclass(frozen=True)
class KnowledgeChange:
    created: int
    updated: int
    unchanged: int
    removed: int
    added_phrasing_ids: tuple[int, ...]
    removed_phrasing_ids: tuple[int, ...]

    def __add__(self, other: KnowledgeChange) -> KnowledgeChange:
        return KnowledgeChange(
            self.created + other.created,
            self.updated + other.updated,
            self.unchanged + other.unchanged,
            self.removed + other.removed,
            self.added_phrasing_ids + other.added_phrasing_ids,
            self.removed_phrasing_ids + other.removed_phrasing_ids,
        )


NO_CHANGE = KnowledgeChange(0, 0, 0, 0, (), ())


@dataclass
class _SyncTally:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0


class KnowledgeData(OrgScoped):
    """One organization's knowledge rows; like ``OrgData``, every query names the organization."""

    def revision(self) -> int:
        """The organization's ``kb_revision``: bumped by every change of its knowledge."""
        org = self._session.get(Organization, self.org_id)
        if org is None:
            raise LookupError(f"organization {self.org_id} does not exist")
        return org.kb_revision

    # -- entries ---------------------------------------------------------------------------------

    def entries(self, *, enabled_only: bool = False) -> Sequence[KnowledgeEntry]:
        query = select(KnowledgeEntry).where(KnowledgeEntry.org_id == self.org_id)
        if enabled_only:
            query = query.where(col(KnowledgeEntry.enabled).is_(True))
        return self._session.exec(query.order_by(col(KnowledgeEntry.id))).all()

    def entries_by_id(self, entry_ids: Iterable[int]) -> dict[int, KnowledgeEntry]:
        ids = list(set(entry_ids))
        if not ids:
            return {}
        rows = self._session.exec(
            select(KnowledgeEntry).where(
                KnowledgeEntry.org_id == self.org_id, col(KnowledgeEntry.id).in_(ids)
            )
        ).all()
        return {row.id: row for row in rows if row.id is not None}

    def entries_from(self, source: str) -> Sequence[KnowledgeEntry]:
        return self._session.exec(
            select(KnowledgeEntry)
            .where(KnowledgeEntry.org_id == self.org_id, KnowledgeEntry.source == source)
            .order_by(col(KnowledgeEntry.position), col(KnowledgeEntry.id))
        ).all()

    def entry(self, entry_id: int) -> KnowledgeEntry | None:
        return self._session.exec(
            select(KnowledgeEntry).where(
                KnowledgeEntry.org_id == self.org_id, KnowledgeEntry.id == entry_id
            )
        ).first()

    def external_id_taken(self, external_id: str) -> bool:
        count = self._session.exec(
            select(func.count())
            .select_from(KnowledgeEntry)
            .where(KnowledgeEntry.org_id == self.org_id, KnowledgeEntry.external_id == external_id)
        ).one()
        return bool(count)

    def add_entry(
        self,
        *,
        external_id: str,
        question: str,
        answer: str,
        category: str | None,
        source: str,
        kind: str,
        enabled: bool,
        now: datetime,
        language: str = "en",
        translations: Iterable[tuple[str, str]] = (),
    ) -> KnowledgeEntry:
        entry = KnowledgeEntry(
            org_id=self.org_id,
            external_id=external_id,
            question=question,
            answer=answer,
            category=category,
            source=source,
            kind=kind,
            enabled=enabled,
            language=language,
            answer_translations=encode_translations(translations),
            created_at=now,
            updated_at=now,
        )
        self._session.add(entry)
        self._session.flush()
        self.bump_revision()
        return entry

    def update_entry(
        self,
        entry: KnowledgeEntry,
        *,
        question: str,
        answer: str,
        category: str | None,
        enabled: bool,
        now: datetime,
        language: str | None = None,
        translations: Iterable[tuple[str, str]] | None = None,
    ) -> None:
        """Set the entry's editable fields (unchanged ones to their current values; None
        leaves the answer's language and translations as they are)."""
        if entry.org_id != self.org_id:
            raise PermissionError("entry belongs to another organization")
        entry.question = question
        entry.answer = answer
        entry.category = category
        entry.enabled = enabled
        if language is not None:
            entry.language = language
        if translations is not None:
            entry.answer_translations = encode_translations(translations)
        entry.updated_at = now
        self._session.add(entry)
        self.bump_revision()

    def delete_entries_from(self, source: str) -> int:
        """Remove every entry read from ``source`` (the caller bumps the revision)."""
        removed = 0
        for entry in self.entries_from(source):
            self._delete_entry(entry)
            removed += 1
        return removed

    def delete_entry(self, entry: KnowledgeEntry) -> None:
        if entry.org_id != self.org_id:
            raise PermissionError("entry belongs to another organization")
        self._delete_entry(entry)
        self._session.flush()
        self.bump_revision()

    # -- phrasings -------------------------------------------------------------------------------

    def phrasings(self, *, enabled_only: bool = False) -> Sequence[KnowledgePhrasing]:
        query = select(KnowledgePhrasing).where(KnowledgePhrasing.org_id == self.org_id)
        if enabled_only:
            query = query.join(
                KnowledgeEntry, col(KnowledgeEntry.id) == col(KnowledgePhrasing.entry_id)
            ).where(col(KnowledgeEntry.enabled).is_(True))
        return self._session.exec(query.order_by(col(KnowledgePhrasing.id))).all()

    def phrasings_of(self, entry_id: int) -> list[str]:
        rows = self._session.exec(
            select(KnowledgePhrasing)
            .where(KnowledgePhrasing.org_id == self.org_id, KnowledgePhrasing.entry_id == entry_id)
            .order_by(col(KnowledgePhrasing.position), col(KnowledgePhrasing.id))
        ).all()
        return [p.text for p in rows]

    def phrasings_by_entry(self) -> dict[int, tuple[str, ...]]:
        rows = self._session.exec(
            select(KnowledgePhrasing)
            .where(KnowledgePhrasing.org_id == self.org_id)
            .order_by(col(KnowledgePhrasing.position), col(KnowledgePhrasing.id))
        ).all()
        out: dict[int, list[str]] = {}
        for phrasing in rows:
            out.setdefault(phrasing.entry_id, []).append(phrasing.text)
        return {entry_id: tuple(texts) for entry_id, texts in out.items()}

    def replace_phrasings(self, entry: KnowledgeEntry, texts: Sequence[str]) -> None:
        """Set the entry's phrasings; unchanged texts keep their rows (and so their vectors)."""
        existing = self._session.exec(
            select(KnowledgePhrasing).where(
                KnowledgePhrasing.org_id == self.org_id, KnowledgePhrasing.entry_id == entry.id
            )
        ).all()
        by_text = {p.text: p for p in existing}
        assert entry.id is not None
        for position, text in enumerate(texts):
            kept = by_text.pop(text, None)
            if kept is None:
                kept = KnowledgePhrasing(org_id=self.org_id, entry_id=entry.id, text=text)
            kept.position = position
            self._session.add(kept)
        for stale in by_text.values():
            self._session.delete(stale)
        self._session.flush()
        self.bump_revision()

    # -- a file's entries ------------------------------------------------------------------------

    def sync_entries(
        self,
        drafts: Sequence[EntryDraftFields],
        *,
        source: str,
        now: datetime,
        prune_missing: bool,
    ) -> KnowledgeChange:
        """Create or update entries by external id; optionally remove the source's others.

        Phrasings whose text is unchanged keep their ids, so their vectors need not be
        recomputed; the organization's ``kb_revision`` is bumped when anything changed.

        Raises:
            EntryConflict: a draft names an entry another source owns.
        """
        existing = {e.external_id: e for e in self.entries()}
        # Ids are unique per organization, not per file: a file must not take over (and, when
        # it is deleted, remove) an entry another document or a person wrote.
        for draft in drafts:
            owner = existing.get(draft.external_id)
            if owner is not None and owner.source != source:
                raise EntryConflict(draft.external_id, owner.source, draft.line)
        phrasings_by_entry: dict[int, list[KnowledgePhrasing]] = {}
        for phrasing in self.phrasings():
            phrasings_by_entry.setdefault(phrasing.entry_id, []).append(phrasing)

        tally = _SyncTally()
        added: list[KnowledgePhrasing] = []
        removed_ids: list[int | None] = []
        seen: set[str] = set()
        for ordinal, draft in enumerate(drafts):
            seen.add(draft.external_id)
            entry = existing.get(draft.external_id)
            if entry is None:
                entry = self._create_from(draft, source=source, ordinal=ordinal, now=now)
                tally.created += 1
                old: list[KnowledgePhrasing] = []
            else:
                old = phrasings_by_entry.get(entry.id or -1, [])
                changed = self._update_from(
                    entry, draft, old, source=source, ordinal=ordinal, now=now
                )
                if not changed:
                    tally.unchanged += 1
                    continue
                tally.updated += 1
            self._sync_phrasings(entry, draft.questions, old, added, removed_ids)

        if prune_missing:
            tally.removed = self._prune(existing, phrasings_by_entry, source, seen, removed_ids)

        self._session.flush()
        if tally.created or tally.updated or tally.removed:
            self.bump_revision()
        return KnowledgeChange(
            created=tally.created,
            updated=tally.updated,
            unchanged=tally.unchanged,
            removed=tally.removed,
            added_phrasing_ids=tuple(p.id for p in added if p.id is not None),
            removed_phrasing_ids=tuple(i for i in removed_ids if i is not None),
        )

    def _prune(
        self,
        existing: dict[str, KnowledgeEntry],
        phrasings_by_entry: dict[int, list[KnowledgePhrasing]],
        source: str,
        seen: set[str],
        removed_ids: list[int | None],
    ) -> int:
        """Remove the source's entries its file no longer has; returns how many."""
        removed = 0
        for external_id, entry in existing.items():
            if entry.source == source and external_id not in seen:
                removed_ids.extend(p.id for p in phrasings_by_entry.get(entry.id or -1, []))
                self._delete_entry(entry)
                removed += 1
        return removed

    def _create_from(
        self, draft: EntryDraftFields, *, source: str, ordinal: int, now: datetime
    ) -> KnowledgeEntry:
        entry = KnowledgeEntry(
            org_id=self.org_id,
            external_id=draft.external_id,
            question=draft.questions[0],
            answer=draft.answer,
            category=draft.category,
            source=source,
            kind=draft.kind,
            location=draft.location,
            language=_language_of(draft),
            answer_translations=encode_translations(_translations_of(draft)),
            question_translations=encode_translations(_questions_of(draft)),
            position=ordinal,
            created_at=now,
            updated_at=now,
        )
        self._session.add(entry)
        self._session.flush()
        return entry

    def _update_from(
        self,
        entry: KnowledgeEntry,
        draft: EntryDraftFields,
        old: list[KnowledgePhrasing],
        *,
        source: str,
        ordinal: int,
        now: datetime,
    ) -> bool:
        """Bring an entry to its draft; False (and nothing written) when it already is."""
        same = (
            entry.question == draft.questions[0]
            and entry.answer == draft.answer
            and entry.category == draft.category
            and entry.source == source
            and entry.kind == draft.kind
            and entry.location == draft.location
            and entry.language == _language_of(draft)
            and answer_translations(entry) == _translations_of(draft)
            and question_translations(entry) == _questions_of(draft)
            and entry.position == ordinal
            and [p.text for p in old] == list(draft.questions)
        )
        if same:
            return False
        entry.question = draft.questions[0]
        entry.answer = draft.answer
        entry.category = draft.category
        entry.source = source
        entry.kind = draft.kind
        entry.location = draft.location
        entry.language = _language_of(draft)
        entry.answer_translations = encode_translations(_translations_of(draft))
        entry.question_translations = encode_translations(_questions_of(draft))
        entry.position = ordinal
        entry.updated_at = now
        self._session.add(entry)
        return True

    def _sync_phrasings(
        self,
        entry: KnowledgeEntry,
        questions: Sequence[str],
        old: list[KnowledgePhrasing],
        added: list[KnowledgePhrasing],
        removed_ids: list[int | None],
    ) -> None:
        """Give the entry exactly ``questions``, keeping the rows of unchanged texts."""
        old_by_text = {p.text: p for p in old}
        assert entry.id is not None  # flushed when created
        for position, text in enumerate(questions):
            kept = old_by_text.pop(text, None)
            if kept is not None:
                if kept.position != position:
                    kept.position = position
                    self._session.add(kept)
                continue
            phrasing = KnowledgePhrasing(
                org_id=self.org_id, entry_id=entry.id, text=text, position=position
            )
            self._session.add(phrasing)
            added.append(phrasing)
        for stale in old_by_text.values():
            removed_ids.append(stale.id)
            self._session.delete(stale)

    # -- helpers ---------------------------------------------------------------------------------

    def _delete_entry(self, entry: KnowledgeEntry) -> None:
        # Answers keep their text; only the link to an entry that no longer exists goes.
        self._session.execute(
            update(Message)
            .where(col(Message.org_id) == self.org_id, col(Message.answer_entry_id) == entry.id)
            .values(answer_entry_id=None)
        )
        self._session.execute(
            delete(KnowledgePhrasing).where(
                col(KnowledgePhrasing.org_id) == self.org_id,
                col(KnowledgePhrasing.entry_id) == entry.id,
            )
        )
        self._session.delete(entry)

    def bump_revision(self) -> None:
        """Tell every process that this organization's knowledge changed."""
        self._session.execute(
            update(Organization)
            .where(col(Organization.id) == self.org_id)
            .values(kb_revision=Organization.kb_revision + 1)
        )

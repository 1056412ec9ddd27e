"""Tiny snapshots built without a database, for the unit tests of the knowledge index's parts."""

from __future__ import annotations

import hashlib
import hmac

from imaradesk.knowledge_index.embedder import HashingEmbedder
from imaradesk.knowledge_index.index_builder import IndexBuilder, KnowledgeRows
from imaradesk.knowledge_index.retrieval_types import AnsweringSettings, EntryInfo, OrgKnowledge
from imaradesk.storage.encryption import DecryptionError

ANSWERING = AnsweringSettings(
    max_wrong_answer_rate=0.1,
    min_answer_similarity=0.3,
    fallback_min_similarity=0.5,
    fallback_min_margin=0.05,
    search_candidates=20,
)
DENSE = AnsweringSettings(**{**ANSWERING.__dict__, "retrieval_mode": "dense"})

ENTRIES = {
    1: EntryInfo(1, "balance", "How do I check my balance?", "Dial *483*1#.", "Account"),
    2: EntryInfo(2, "reset-pin", "How do I reset my PIN?", "Dial *483*9#.", "Security"),
    3: EntryInfo(3, "fees", "How much does sending cost?", "1% of the amount.", None),
    4: EntryInfo(4, "fuliza", "What is Fuliza?", "An overdraft.", None, source="guide.txt"),
}
PHRASINGS = [
    (10, 1, "How do I check my balance?"),
    (11, 1, "Nataka kujua salio langu"),
    (20, 2, "How do I reset my PIN?"),
    (21, 2, "I forgot my PIN"),
    (30, 3, "How much does sending cost?"),
    (40, 4, "What is Fuliza?"),
]


def rows(revision: int = 1, phrasings: list[tuple[int, int, str]] | None = None) -> KnowledgeRows:
    return KnowledgeRows(
        revision, dict(ENTRIES), list(PHRASINGS if phrasings is None else phrasings), tuning=True
    )


def build(
    answering: AnsweringSettings = ANSWERING,
    *,
    embedder: HashingEmbedder | None = None,
    knowledge: KnowledgeRows | None = None,
    previous: OrgKnowledge | None = None,
    org_id: int = 7,
) -> OrgKnowledge:
    builder = IndexBuilder(embedder=embedder or HashingEmbedder(), answering=answering)
    prepared = builder.prepare(org_id, knowledge or rows(), previous=previous, progress=None)
    return builder.train(prepared)


class FakeSealer:
    """Seals with an HMAC tag bound to the organization and the context, like the keystore's
    authenticated encryption: any change to the bytes, or another org or file, fails to open."""

    def __init__(self) -> None:
        self.sealed: list[tuple[int, str]] = []

    def seal_bytes(self, org_id: int, data: bytes, context: str) -> bytes:
        self.sealed.append((org_id, context))
        return self._tag(org_id, data, context) + data

    def open_bytes(self, org_id: int, blob: bytes, context: str) -> bytes:
        tag, data = blob[:32], blob[32:]
        if not hmac.compare_digest(tag, self._tag(org_id, data, context)):
            raise DecryptionError("sealed for another organization or file, or changed")
        return data

    @staticmethod
    def _tag(org_id: int, data: bytes, context: str) -> bytes:
        return hmac.new(f"{org_id}/{context}".encode(), data, hashlib.sha256).digest()

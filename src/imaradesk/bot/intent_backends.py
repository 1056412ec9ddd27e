"""An organization's own NLU server (Rasa) naming the entry that answers, before our retrieval.

When an organization has ``rasa_url`` set, the turn asks that server for the intent. If the
intent is the external id of one of the organization's enabled entries and the server is at
least ``min_confidence`` sure, that entry answers. Anything else (timeout, error, an unknown
intent, low confidence) leaves the decision to our own retrieval, as if no server were set.
The text sent is redacted like text sent to an LLM: the server may run on another machine.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from imaradesk.bot.context import TurnContext
from imaradesk.bot.decision import Decision
from imaradesk.bot.rules import answer_reply
from imaradesk.bot.state import CLARIFICATIONS, SUGGESTIONS
from imaradesk.knowledge_index.knowledge_base import EntryInfo, KnowledgeBase
from imaradesk.nlu.base import NLUBackend, NLUError, NLUResult
from imaradesk.nlu.rasa_http import RasaNLU
from imaradesk.pii.redactor import Redactor
from imaradesk.storage.models import Organization

log = logging.getLogger(__name__)

BackendFactory = Callable[[str, float], NLUBackend]


def _rasa(url: str, timeout: float) -> NLUBackend:
    return RasaNLU(url, timeout=timeout)


@dataclass(frozen=True)
class IntentAnswer:
    entry: EntryInfo
    result: NLUResult


class IntentBackends:
    """Which NLU backend each organization uses, and the rule that lets it answer."""

    def __init__(
        self,
        *,
        timeout: float = 2.0,
        min_confidence: float = 0.6,
        factory: BackendFactory = _rasa,
        redactor: Redactor | None = None,
    ) -> None:
        self.timeout = timeout
        self.min_confidence = min_confidence
        self._factory = factory
        self._redactor = redactor or Redactor()
        self._backends: dict[str, NLUBackend] = {}

    def backend_for(self, org: Organization) -> NLUBackend | None:
        url = (org.rasa_url or "").strip()
        if not url:
            return None
        backend = self._backends.get(url)
        if backend is None:
            try:
                backend = self._factory(url, self.timeout)
            except ValueError:
                log.warning("the organization's rasa_url is not usable", extra={"org_id": org.id})
                return None
            self._backends[url] = backend
        return backend

    def rules_for(self, org: Organization, knowledge: KnowledgeBase) -> list[IntentRule]:
        """The rule to put before the knowledge rule: none without a backend."""
        backend = self.backend_for(org)
        if backend is None or org.id is None:
            return []
        org_id, revision = org.id, org.kb_revision

        def entry_named(external_id: str) -> EntryInfo | None:
            entries = knowledge.snapshot(org_id, revision=revision).entries
            return next((e for e in entries.values() if e.external_id == external_id), None)

        return [IntentRule(backend, entry_named, self.min_confidence, self._redactor, org_id)]


class IntentRule:
    """Answers with the entry the NLU backend's intent names, when it is sure enough."""

    name = "nlu_intent"

    def __init__(
        self,
        backend: NLUBackend,
        entry_named: Callable[[str], EntryInfo | None],
        min_confidence: float,
        redactor: Redactor,
        org_id: int,
    ) -> None:
        self._backend = backend
        self._entry_named = entry_named
        self._min_confidence = min_confidence
        self._redactor = redactor
        self._org_id = org_id
        self._answer: IntentAnswer | None = None
        self._asked = False

    def applies(self, ctx: TurnContext) -> bool:
        return self.answer(ctx) is not None

    def apply(self, ctx: TurnContext) -> Decision:
        found = self.answer(ctx)
        assert found is not None
        reply = answer_reply(ctx, found.entry, round(found.result.confidence, 4))
        return Decision(
            self.name, (reply,), ai_processed=True, state={CLARIFICATIONS: "0", SUGGESTIONS: ""}
        )

    def answer(self, ctx: TurnContext) -> IntentAnswer | None:
        """Ask the backend once per turn; None means our retrieval decides."""
        if self._asked:
            return self._answer
        self._asked = True
        text = ctx.text
        if not text:
            return None
        redacted = self._redactor.redact(text, names=[n for n in [ctx.inbound.profile_name] if n])
        try:
            result = self._backend.parse(redacted.text)
        except NLUError as e:
            log.warning(
                "NLU backend failed; retrieval decides",
                extra={"org_id": self._org_id, "error": str(e)},
            )
            return None
        entry = self._entry_named(result.intent) if result.intent else None
        log.info(
            "NLU backend intent",
            extra={
                "org_id": self._org_id,
                "intent": result.intent,
                "confidence": round(result.confidence, 4),
                "entry": entry.entry_id if entry else None,
            },
        )
        if entry is None or result.confidence < self._min_confidence:
            return None
        self._answer = IntentAnswer(entry, result)
        return self._answer

"""What the rules of a turn see: the message, what we know of the sender, and a few ports.

Rules stay pure: everything they may ask (the knowledge base, an AI that picks among unsure
candidates, the privacy desk's view of this contact, the routing signals) comes in as a small
Protocol, with a do-nothing implementation for organizations that have none of it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from imaradesk.bot.state import CLARIFICATIONS, CSAT_HANDOFF, PENDING_ERASURE, SUGGESTIONS
from imaradesk.channels.messages import InboundMessage
from imaradesk.compliance.desk import ExportLink
from imaradesk.knowledge_index.knowledge_base import Candidate, Retrieval
from imaradesk.policies.language import ReplyLanguage
from imaradesk.policies.privacy import PrivacyIntent, recognise
from imaradesk.policies.routing import Rule as RoutingRule
from imaradesk.policies.routing import Sentiment, match_topic
from imaradesk.runtime.lazy import lazy


class Retriever(Protocol):
    def search(self, text: str) -> Retrieval:
        """The organization's knowledge base's candidates for ``text``."""
        ...


class Disambiguator(Protocol):
    def choose(self, text: str, candidates: Sequence[Candidate]) -> Candidate | None:
        """The candidate that asks what ``text`` asks, or None if none does (or nobody can tell).

        Args:
            text: the customer's message.
            candidates: the plausible entries, best first.
        """
        ...


class ContactPrivacy(Protocol):
    """The privacy desk as the rules see it, for one contact."""

    def export_link(self) -> ExportLink | None: ...

    def erasure_blocked(self) -> bool: ...


class RoutingSignals(Protocol):
    """The organization's routing rules, and the signals the rules of a turn may use."""

    @property
    def rules(self) -> tuple[RoutingRule, ...]: ...

    def sentiment(self, text: str) -> Sentiment | None: ...

    def topic_like(self, text: str, retrieval: Retrieval) -> RoutingRule | None:
        """The topic rule whose examples ``text`` is closer to than to any FAQ entry."""
        ...


class NoDisambiguation:
    """Organizations that keep their text away from AI providers: nobody picks for the bot."""

    def choose(self, text: str, candidates: Sequence[Candidate]) -> Candidate | None:
        return None


class NoContactPrivacy:
    """A sender we do not know yet: nothing to export, nothing under a hold."""

    def export_link(self) -> ExportLink | None:
        return None

    def erasure_blocked(self) -> bool:
        return False


class NoRoutingSignals:
    rules: tuple[RoutingRule, ...] = ()

    def sentiment(self, text: str) -> Sentiment | None:
        return None

    def topic_like(self, text: str, retrieval: Retrieval) -> RoutingRule | None:
        return None


@dataclass
class TurnContext:
    inbound: InboundMessage
    is_new_contact: bool
    opted_out: bool
    human_owns_conversation: bool
    state: Mapping[str, str]
    retriever: Retriever
    restricted: bool = False
    disambiguator: Disambiguator = field(default_factory=NoDisambiguation)
    privacy: ContactPrivacy = field(default_factory=NoContactPrivacy)
    routing: RoutingSignals = field(default_factory=NoRoutingSignals)
    # The language of this turn's replies (policies.language.reply_language decides it).
    language: ReplyLanguage = field(default_factory=lambda: ReplyLanguage("en", chosen=False))
    _retrieval: Retrieval | None = field(default=None, init=False, repr=False)

    @property
    def text(self) -> str:
        return (self.inbound.text or self.inbound.button_payload or "").strip()

    @property
    def reply_language(self) -> str:
        """Every product message of the turn is written in this language."""
        return self.language.code

    @property
    def retrieval(self) -> Retrieval:
        """The knowledge base's answer to the message, searched once, when a rule first asks."""
        if self._retrieval is None:
            self._retrieval = self.retriever.search(self.text)
        return self._retrieval

    @property
    def retrieval_if_searched(self) -> Retrieval | None:
        """The turn's search, if a rule made one (routing reuses it instead of searching again)."""
        return self._retrieval

    @lazy
    def always_human_topic(self) -> RoutingRule | None:
        rules = self.routing.rules
        rule = match_topic([self.text], rules)
        if rule is None and any(r.examples for r in rules):
            rule = self.routing.topic_like(self.text, self.retrieval)
        return rule if rule is not None and rule.always_human else None

    @lazy
    def sentiment(self) -> Sentiment | None:
        # The multilingual encoder remembers the message's vector for the search after it.
        return self.routing.sentiment(self.text)

    @lazy
    def privacy_intent(self) -> PrivacyIntent | None:
        return recognise(self.text, own_number=self.inbound.sender_id)

    @property
    def csat_handoff(self) -> int | None:
        raw = self.state.get(CSAT_HANDOFF, "")
        return int(raw) if raw.isdigit() else None

    @property
    def pending_erasure(self) -> int | None:
        raw = self.state.get(PENDING_ERASURE, "")
        return int(raw) if raw.isdigit() else None

    @property
    def clarifications(self) -> int:
        try:
            return int(self.state.get(CLARIFICATIONS, "0"))
        except ValueError:
            return 0

    @property
    def suggestions(self) -> list[int]:
        raw = self.state.get(SUGGESTIONS, "")
        return [int(x) for x in raw.split(",") if x.isdigit()]

"""Stage 2 of a turn: the context the rules see, and the organization's rules in their order.

The first rule that applies decides. Data-protection requests and consent keywords come first
(they work after STOP and while a person owns the conversation), the knowledge base last.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from imaradesk.bot.compose import AnswerWriter
from imaradesk.bot.context import TurnContext
from imaradesk.bot.decision import Decision, Rule, decide
from imaradesk.bot.handoff_offer import HandoffOfferRule
from imaradesk.bot.language import LanguageChoiceRule, LanguageDetection, turn_language
from imaradesk.bot.observe import Observation
from imaradesk.bot.privacy_rules import (
    PendingErasureRule,
    PrivacyRequestRule,
    RestrictedProcessingRule,
)
from imaradesk.bot.route import HandoffPlanner
from imaradesk.bot.rules import (
    AlwaysHumanTopicRule,
    ConsentKeywordRule,
    CsatRule,
    FrustrationRule,
    HumanOwnsConversationRule,
    HumanRequestRule,
    KnowledgeRule,
    OptedOutRule,
    SmallTalkRule,
    SuggestionChoiceRule,
    UnsupportedMediaRule,
)
from imaradesk.channels.messages import InboundMessage
from imaradesk.compliance.desk import ExportLink, PrivacyDesk
from imaradesk.knowledge_index.knowledge_base import Candidate, KnowledgeBase, Retrieval
from imaradesk.policies.handoff import LowConfidencePolicy
from imaradesk.policies.language import LanguageDetector
from imaradesk.storage.models import Contact, Organization


class IntentRules(Protocol):
    def rules_for(self, org: Organization, knowledge: KnowledgeBase) -> list[Rule]:
        """Rules of the organization's own NLU server, tried before our retrieval."""
        ...


class NoIntentRules:
    def rules_for(self, org: Organization, knowledge: KnowledgeBase) -> list[Rule]:
        return []


class Decider:
    def __init__(
        self,
        *,
        knowledge: KnowledgeBase,
        privacy: PrivacyDesk,
        planner: HandoffPlanner,
        writer: AnswerWriter,
        intents: IntentRules,
        low_confidence: LowConfidencePolicy,
        languages: LanguageDetection | None = None,
    ) -> None:
        self._knowledge = knowledge
        self._privacy = privacy
        self._planner = planner
        self._writer = writer
        self._intents = intents
        self._low_confidence = low_confidence
        # Share routing's detector where there is one: lingua's models load once.
        self._languages = languages or LanguageDetector()

    def context(
        self, org: Organization, inbound: InboundMessage, observation: Observation
    ) -> TurnContext:
        assert org.id is not None
        contact = observation.contact
        text = (inbound.text or inbound.button_payload or "").strip()
        if contact is not None and contact.opted_out:
            text = ""  # after STOP nothing reads their words: the remembered language answers
        language = turn_language(
            self._languages, text=text, contact=contact, state=observation.state, org_name=org.name
        )
        return TurnContext(
            inbound=inbound,
            is_new_contact=contact is None,
            opted_out=bool(contact and contact.opted_out),
            human_owns_conversation=observation.human_owns_conversation,
            state=observation.state,
            retriever=_OrgRetriever(self._knowledge, org.id, org.kb_revision),
            restricted=bool(contact and contact.restricted),
            disambiguator=self._writer.disambiguator(org, contact, inbound.profile_name),
            privacy=_ContactPrivacy(self._privacy, org, contact),
            routing=self._planner.signals(org),
            language=language,
        )

    def decide(self, org: Organization, ctx: TurnContext) -> Decision:
        return decide(self.rules(org), ctx)

    def rules(self, org: Organization) -> list[Rule]:
        """The organization's rules, in the order they are tried."""
        assert org.id is not None
        org_id, revision = org.id, org.kb_revision
        knowledge = self._knowledge

        def lookup(entry_id: int) -> Candidate | None:
            entry = knowledge.snapshot(org_id, revision=revision).entries.get(entry_id)
            return Candidate(entry, 1.0) if entry else None

        return ordered_rules(
            lookup=lookup,
            intent_rules=self._intents.rules_for(org, knowledge),
            low_confidence=self._low_confidence,
        )


def ordered_rules(
    *,
    lookup: Callable[[int], Candidate | None],
    intent_rules: Sequence[Rule],
    low_confidence: LowConfidencePolicy,
) -> list[Rule]:
    """Every rule of a turn, in the order they are tried: the order is behaviour.

    ``lookup`` finds an entry offered as a suggestion; ``intent_rules`` are the organization's
    own NLU server's, tried just before our retrieval.
    """
    return [
        # A NO (or "cancel") to "Reply YES to erase" is an answer, not an opt-out keyword.
        PendingErasureRule(),
        ConsentKeywordRule(),
        PrivacyRequestRule(),
        OptedOutRule(),
        HumanOwnsConversationRule(),
        UnsupportedMediaRule(),
        LanguageChoiceRule(),  # "ongea Kiswahili": needs no model, restricted or not
        HumanRequestRule(),
        CsatRule(),  # a rating needs no model, restricted or not
        RestrictedProcessingRule(),
        AlwaysHumanTopicRule(),
        FrustrationRule(),
        SuggestionChoiceRule(lookup),
        HandoffOfferRule(),
        SmallTalkRule(),
        *intent_rules,
        KnowledgeRule(low_confidence),
    ]


class _OrgRetriever:
    def __init__(self, knowledge: KnowledgeBase, org_id: int, revision: int) -> None:
        self._knowledge = knowledge
        self._org_id = org_id
        self._revision = revision

    def search(self, text: str) -> Retrieval:
        return self._knowledge.search(self._org_id, text, revision=self._revision)


class _ContactPrivacy:
    """The privacy desk as the rules see it, for one organization and contact."""

    def __init__(self, desk: PrivacyDesk, org: Organization, contact: Contact | None) -> None:
        self._desk = desk
        self._org = org
        self._contact = contact

    def export_link(self) -> ExportLink | None:
        if self._contact is None or self._contact.id is None:
            return None
        return self._desk.export_link(self._org, self._contact.id)

    def erasure_blocked(self) -> bool:
        return self._contact is not None and self._desk.erasure_blocked(self._org, self._contact)

"""The ordered rules of a turn, on plain turn contexts: no database, no HTTP, no model.

The knowledge base is a fixed ``Retrieval`` behind a retriever that counts its searches, so a
test can prove what never reached the model (an opted-out customer's text, a restricted
contact's question). Frustration and always-human topics use the real routing policies.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import pytest

from imaradesk.bot.context import (
    ContactPrivacy,
    Disambiguator,
    NoContactPrivacy,
    NoDisambiguation,
    TurnContext,
)
from imaradesk.bot.decide import ordered_rules
from imaradesk.bot.decision import Decision, Rule, decide
from imaradesk.bot.handoff_offer import HandoffOfferRule
from imaradesk.bot.language import LanguageChoiceRule
from imaradesk.bot.privacy_rules import (
    PendingErasureRule,
    PrivacyRequestRule,
    RestrictedProcessingRule,
)
from imaradesk.bot.rules import (
    HANDOFF_REPLY,
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
from imaradesk.bot.state import (
    CLARIFICATIONS,
    CSAT_HANDOFF,
    HANDOFF_OFFERED,
    PENDING_ERASURE,
    SUGGESTIONS,
)
from imaradesk.channels.messages import InboundMessage, Media, Outcome, ReplyKind
from imaradesk.compliance.desk import ExportLink
from imaradesk.compliance.subject_export import ExportSummary
from imaradesk.knowledge_index.answer_models import Judgement
from imaradesk.knowledge_index.knowledge_base import Candidate, EntryInfo, Retrieval
from imaradesk.policies.consent import ConsentKeyword
from imaradesk.policies.handoff import HandoffReason, LowConfidencePolicy
from imaradesk.policies.language import ReplyLanguage
from imaradesk.policies.privacy import Correction, PrivacyEffectKind, PrivacyRight
from imaradesk.policies.routing import Rule as RoutingRule
from imaradesk.policies.routing import Sentiment, SentimentAnalyzer
from imaradesk.runtime.i18n import translate

SENDER = "+254712345678"
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

# -- the organization's knowledge base, as data ------------------------------------------------

PIN = EntryInfo(
    1, "pin", "How do I reset my PIN?", "Dial *334#, then My Account > PIN.", "Security"
)
BALANCE = EntryInfo(2, "balance", "How do I check my balance?", "Dial *483*1#.", "Payments")
STATEMENT = EntryInfo(
    3, "statement", "How do I get a statement?", "Open the app > Statements.", None
)
CLOSE = EntryInfo(4, "close", "How do I close my account?", "Visit any branch with your ID.", None)
ADDRESS = EntryInfo(5, "address", "How do I change my address?", "Update it in the app.", None)
ENTRIES = {e.entry_id: e for e in (PIN, BALANCE, STATEMENT, CLOSE, ADDRESS)}


def confident(entry: EntryInfo, *others: Candidate, similarity: float = 0.88) -> Retrieval:
    judgement = Judgement(entry.entry_id, 0.93, similarity, True, "test")
    return Retrieval(judgement, (Candidate(entry, similarity), *others))


def unsure(*candidates: Candidate) -> Retrieval:
    best = candidates[0] if candidates else None
    judgement = Judgement(
        best.entry.entry_id if best else None, 0.31, best.similarity if best else 0.0, False, "test"
    )
    return Retrieval(judgement, candidates)


NOTHING = unsure()
# Two plausible entries (similarity >= 0.35) and one too far to offer.
UNSURE_PIN_OR_BALANCE = unsure(
    Candidate(PIN, 0.61), Candidate(BALANCE, 0.47), Candidate(STATEMENT, 0.2)
)
FAR_OFF = unsure(Candidate(STATEMENT, 0.21), Candidate(PIN, 0.12))

# -- the ports --------------------------------------------------------------------------------


class FixedRetriever:
    """The knowledge base: one fixed answer, and a record of every text that was searched."""

    def __init__(self, retrieval: Retrieval) -> None:
        self._retrieval = retrieval
        self.searches: list[str] = []

    def search(self, text: str) -> Retrieval:
        self.searches.append(text)
        return self._retrieval


class PolicySignals:
    """Routing signals from the real policies: VADER and friends for sentiment, keyword topics."""

    analyzer = SentimentAnalyzer()  # shared: VADER loads once for the module

    def __init__(self, rules: tuple[RoutingRule, ...]) -> None:
        self.rules = rules
        self.analysed: list[str] = []

    def sentiment(self, text: str) -> Sentiment | None:
        self.analysed.append(text)
        return self.analyzer.analyse(text)

    def topic_like(self, text: str, retrieval: Retrieval) -> RoutingRule | None:
        return None


class PicksCandidate:
    """An AI that picks the candidate at ``index`` among the unsure ones (or none)."""

    def __init__(self, index: int | None) -> None:
        self._index = index
        self.asked: list[tuple[str, tuple[int, ...]]] = []

    def choose(self, text: str, candidates: Sequence[Candidate]) -> Candidate | None:
        self.asked.append((text, tuple(c.entry.entry_id for c in candidates)))
        return None if self._index is None else candidates[self._index]


class DeskPrivacy:
    """The privacy desk's view of a known contact: an export link, maybe a legal hold."""

    def __init__(self, *, link: ExportLink | None = None, held: bool = False) -> None:
        self._link = link
        self._held = held

    def export_link(self) -> ExportLink | None:
        return self._link

    def erasure_blocked(self) -> bool:
        return self._held


def topic(
    value: str, keywords: tuple[str, ...], *, always_human: bool, position: int
) -> RoutingRule:
    return RoutingRule("topic", value, keywords, (), None, 1, always_human, position)


FRAUD = topic("fraud", ("fraud", "scam", "utapeli", "nimeibiwa"), always_human=True, position=1)
LOST_MONEY = topic("lost money", ("pesa imepotea", "not received"), always_human=False, position=2)
ROUTING = (FRAUD, LOST_MONEY)

# -- the rules, in production order -----------------------------------------------------------

looked_up: list[int] = []


def lookup(entry_id: int) -> Candidate | None:
    looked_up.append(entry_id)
    entry = ENTRIES.get(entry_id)
    return Candidate(entry, 1.0) if entry else None


RULES: list[Rule] = [
    PendingErasureRule(),
    ConsentKeywordRule(),
    PrivacyRequestRule(),
    OptedOutRule(),
    HumanOwnsConversationRule(),
    UnsupportedMediaRule(),
    LanguageChoiceRule(),
    HumanRequestRule(),
    CsatRule(),
    RestrictedProcessingRule(),
    AlwaysHumanTopicRule(),
    FrustrationRule(),
    SuggestionChoiceRule(lookup),
    HandoffOfferRule(),
    SmallTalkRule(),
    KnowledgeRule(LowConfidencePolicy()),
]

_ids = itertools.count(1)


class Turn:
    """One inbound message with what we know of its sender, and the ports the rules may ask."""

    def __init__(
        self,
        text: str = "",
        *,
        retrieval: Retrieval = NOTHING,
        state: Mapping[str, str] | None = None,
        opted_out: bool = False,
        human: bool = False,
        restricted: bool = False,
        disambiguator: Disambiguator | None = None,
        privacy: ContactPrivacy | None = None,
        routing: tuple[RoutingRule, ...] = ROUTING,
        media: tuple[Media, ...] = (),
        button_payload: str | None = None,
        language: str = "en",
    ) -> None:
        self.retriever = FixedRetriever(retrieval)
        self.signals = PolicySignals(routing)
        inbound = InboundMessage(
            org_slug="acme",
            channel="whatsapp",
            sender_id=SENDER,
            provider_message_id=f"SM{next(_ids):06d}",
            received_at=NOW,
            text=text,
            media=media,
            button_payload=button_payload,
        )
        self.ctx = TurnContext(
            inbound=inbound,
            is_new_contact=False,
            opted_out=opted_out,
            human_owns_conversation=human,
            state=dict(state or {}),
            retriever=self.retriever,
            restricted=restricted,
            disambiguator=disambiguator or NoDisambiguation(),
            privacy=privacy or NoContactPrivacy(),
            routing=self.signals,
            language=ReplyLanguage(language, chosen=False),
        )

    def decide(self) -> Decision:
        return decide(RULES, self.ctx)

    @property
    def searched(self) -> bool:
        return bool(self.retriever.searches)


def kinds(decision: Decision) -> list[ReplyKind]:
    return [r.kind for r in decision.replies]


def outcomes(decision: Decision) -> list[Outcome]:
    return [r.outcome_code for r in decision.replies]


RESET = {CLARIFICATIONS: "0", SUGGESTIONS: ""}


@pytest.fixture(autouse=True)
def _forget_lookups() -> None:
    looked_up.clear()


def test_hand_built_rules_are_the_production_order() -> None:
    """The list these tests run is the one every organization without NLU gets."""
    production = ordered_rules(
        lookup=lambda entry_id: None, intent_rules=(), low_confidence=LowConfidencePolicy()
    )
    assert [r.name for r in production] == [r.name for r in RULES]


# -- consent keywords -------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["STOP", "stop.", "Unsubscribe", "quit!", "cancel"])
def test_stop_opts_out_with_a_confirmation_and_no_search(text: str) -> None:
    """A carrier keyword opts out, is confirmed once without the notice, and reaches no model."""
    turn = Turn(text, retrieval=confident(PIN))
    d = turn.decide()
    assert (d.rule, d.consent, d.show_notice) == ("consent_keyword", ConsentKeyword.OPT_OUT, False)
    assert outcomes(d) == [Outcome.OPTED_OUT]
    assert not turn.searched and turn.signals.analysed == []


def test_stop_again_after_stop_is_not_confirmed_twice() -> None:
    """Repeating STOP gets no reply: the confirmation would be the noise they asked to stop."""
    d = Turn("STOP", opted_out=True).decide()
    assert (d.rule, d.replies, d.consent) == ("consent_keyword", (), None)


def test_start_after_stop_opts_back_in() -> None:
    """START from an opted-out contact records consent again and welcomes them back."""
    d = Turn("START", opted_out=True).decide()
    assert (d.rule, d.consent, outcomes(d)) == (
        "consent_keyword",
        ConsentKeyword.OPT_IN,
        [Outcome.OPTED_IN],
    )


def test_start_when_already_opted_in_records_nothing() -> None:
    """START from a contact who never left changes no consent, only says so."""
    d = Turn("start").decide()
    assert (d.rule, d.consent, kinds(d)) == (
        "consent_keyword",
        None,
        [ReplyKind.OPT_IN_CONFIRMATION],
    )


def test_stop_inside_a_sentence_is_not_a_keyword() -> None:
    """Only the whole message opts out: "please don't stop my account" is a question."""
    d = Turn("please don't stop my account", retrieval=confident(CLOSE)).decide()
    assert d.rule == "knowledge" and d.consent is None


@pytest.mark.parametrize(
    "text",
    [
        "How do I reset my PIN?",
        "Nimesahau PIN yangu",
        "hello",
        "nataka kuongea na mtu",
        "THIS IS THE THIRD TIME I AM ASKING YOU!!!",
        "1",
    ],
)
def test_after_stop_the_bot_is_silent_and_no_model_sees_the_text(text: str) -> None:
    """Opted out: no reply, no search, no sentiment, whatever the message is."""
    turn = Turn(text, opted_out=True, retrieval=confident(PIN), state={SUGGESTIONS: "1,2"})
    d = turn.decide()
    assert (d.rule, d.replies, d.show_notice) == ("opted_out", (), False)
    assert turn.retriever.searches == [] and turn.signals.analysed == [] and looked_up == []


# -- data-protection requests come before opt-out and human ownership --------------------------


@pytest.mark.parametrize("text", ["delete my data", "futa data yangu"])
def test_erasure_request_is_heard_after_stop(text: str) -> None:
    """An opted-out customer can still ask for erasure: they are asked to confirm, no search."""
    turn = Turn(text, opted_out=True)
    d = turn.decide()
    assert d.rule == "privacy_request"
    assert d.privacy is not None and d.privacy.kind is PrivacyEffectKind.REQUEST_ERASURE
    assert outcomes(d) == [Outcome.PRIVACY] and not turn.searched


@pytest.mark.parametrize(
    ("text", "language", "summary"),
    [
        ("send me my data", "en", "In short: 12 messages since 2026-01-05"),
        ("nitumie data yangu", "sw", "Kwa ufupi: jumbe 12 tangu 2026-01-05"),
    ],
)
def test_access_request_is_answered_while_a_person_owns_the_chat(
    text: str, language: str, summary: str
) -> None:
    """A person owning the chat does not silence a data request: the export link goes out,
    with its summary in the customer's language."""
    facts = ExportSummary(12, "2026-01-05", "granted", "2026-01-05", 1, 1)
    link = ExportLink("https://acme.example/export/abc", facts, 60)
    d = Turn(text, human=True, privacy=DeskPrivacy(link=link), language=language).decide()
    assert d.rule == "privacy_request"
    assert d.privacy is not None and d.privacy.kind is PrivacyEffectKind.ACCESS
    assert link.url in d.replies[0].text and summary in d.replies[0].text


def test_access_request_of_an_unknown_sender_has_nothing_to_export() -> None:
    """With nothing held yet, the customer is told so rather than sent an empty file."""
    d = Turn("send me my data").decide()
    assert d.privacy is not None and d.privacy.kind is PrivacyEffectKind.ACCESS_NOTHING


@pytest.mark.parametrize(
    ("text", "right"),
    [
        ("send me my husband's data", PrivacyRight.ACCESS),
        ("delete the data of 0722000111", PrivacyRight.ERASURE),
    ],
)
def test_request_about_someone_else_is_refused(text: str, right: PrivacyRight) -> None:
    """Another person's or number's data: refused with the reason, nothing else happens."""
    d = Turn(text, human=True).decide()
    assert d.rule == "privacy_request" and d.handoff_reason is None
    assert d.privacy is not None
    assert (d.privacy.kind, d.privacy.right) == (PrivacyEffectKind.REFUSE, right)


def test_request_about_the_senders_own_number_in_local_form_is_theirs() -> None:
    """07... is the sender's +2547... number: the request is acted on, not refused."""
    d = Turn("delete the data of 0712345678").decide()
    assert d.privacy is not None and d.privacy.kind is PrivacyEffectKind.REQUEST_ERASURE


def test_correction_with_a_value_is_applied_without_a_search() -> None:
    """'My name is wrong, it's Wanjiru' corrects the name itself; the FAQ is not consulted."""
    turn = Turn("My name is wrong, it's Wanjiru", retrieval=confident(ADDRESS))
    d = turn.decide()
    assert d.privacy is not None and d.privacy.kind is PrivacyEffectKind.RECTIFY
    assert d.privacy.correction == Correction("display_name", "Wanjiru")
    assert not turn.searched


def test_how_to_change_my_address_is_answered_by_the_faq_when_it_knows() -> None:
    """A how-to the FAQ answers confidently is a question, not a correction for a person."""
    d = Turn("How do I change my address?", retrieval=confident(ADDRESS)).decide()
    assert d.rule == "knowledge" and d.privacy is None
    assert d.replies[0].sources[0].entry_id == ADDRESS.entry_id


def test_correction_without_a_value_goes_to_a_person() -> None:
    """'My date of birth is wrong' and the FAQ is unsure: a person makes the correction."""
    d = Turn("my date of birth is wrong", retrieval=FAR_OFF).decide()
    assert d.rule == "privacy_request" and d.handoff_reason is HandoffReason.PRIVACY_REQUEST
    assert d.privacy is not None and d.privacy.kind is PrivacyEffectKind.RECTIFY_BY_HUMAN


def test_restricted_contacts_correction_goes_to_a_person_without_a_search() -> None:
    """A restricted contact's text never reaches the model, even to check the FAQ first."""
    turn = Turn("Tarehe ya kuzaliwa yangu si sahihi", restricted=True, retrieval=confident(ADDRESS))
    d = turn.decide()
    assert d.privacy is not None and d.privacy.kind is PrivacyEffectKind.RECTIFY_BY_HUMAN
    assert not turn.searched


def test_delete_my_account_answers_the_faq_and_offers_erasure() -> None:
    """'Delete my account' may mean closing it: the FAQ answer, then an offer, nothing erased."""
    d = Turn("delete my account", retrieval=confident(CLOSE)).decide()
    assert d.rule == "privacy_request" and d.privacy is None
    assert kinds(d) == [ReplyKind.ANSWER, ReplyKind.PRIVACY]
    assert d.replies[0].sources[0].entry_id == CLOSE.entry_id


def test_delete_my_account_without_a_faq_answer_asks_to_confirm_erasure() -> None:
    """No FAQ entry for closing an account: the request is taken as erasure, pending YES."""
    d = Turn("futa akaunti yangu", retrieval=FAR_OFF).decide()
    assert d.privacy is not None and d.privacy.kind is PrivacyEffectKind.REQUEST_ERASURE


def test_restricted_contacts_delete_my_account_does_not_search() -> None:
    """Restricted: 'delete my account' is taken as erasure without asking the FAQ."""
    turn = Turn("delete my account", restricted=True, retrieval=confident(CLOSE))
    d = turn.decide()
    assert d.privacy is not None and d.privacy.kind is PrivacyEffectKind.REQUEST_ERASURE
    assert not turn.searched


@pytest.mark.parametrize(
    "text", ["stop using my messages for your AI", "msitumie data yangu kwa AI"]
)
def test_objection_restricts_processing(text: str) -> None:
    """An objection to AI use restricts the contact (the desk applies it after the turn)."""
    turn = Turn(text)
    d = turn.decide()
    assert d.rule == "privacy_request"
    assert d.privacy is not None and d.privacy.kind is PrivacyEffectKind.RESTRICT
    assert not turn.searched


@pytest.mark.parametrize(
    "text", ["you can use my data again", "Sawa, mnaweza kutumia data yangu tena"]
)
def test_lifting_the_restriction_is_heard_by_a_restricted_contact(text: str) -> None:
    """The lift request comes before restricted processing, or it could never be made."""
    d = Turn(text, restricted=True).decide()
    assert d.rule == "privacy_request"
    assert d.privacy is not None and d.privacy.kind is PrivacyEffectKind.LIFT


# -- the erasure waiting for YES ---------------------------------------------------------------


@pytest.mark.parametrize("text", ["YES", "yes please", "ndiyo", "Ndio.", "naam"])
def test_yes_to_a_pending_erasure_erases(text: str) -> None:
    """YES (or ndiyo) to "Reply YES to erase" erases the pending request, even after STOP."""
    d = Turn(text, state={PENDING_ERASURE: "33"}, opted_out=True).decide()
    assert d.rule == "pending_erasure" and d.handoff_reason is None
    assert d.privacy is not None
    assert (d.privacy.kind, d.privacy.request_id) == (PrivacyEffectKind.ERASE, 33)


@pytest.mark.parametrize("text", ["NO", "hapana", "la", "cancel"])
def test_no_to_a_pending_erasure_keeps_the_data(text: str) -> None:
    """NO (hapana) keeps the data; "cancel" here answers the question and is not an opt-out."""
    d = Turn(text, state={PENDING_ERASURE: "33"}).decide()
    assert d.rule == "pending_erasure" and d.consent is None
    assert d.privacy is not None
    assert (d.privacy.kind, d.privacy.request_id) == (PrivacyEffectKind.CANCEL, 33)


def test_yes_under_a_legal_hold_is_blocked_and_handed_to_a_person() -> None:
    """A legal hold blocks the erasure; the customer is told and a person follows up."""
    d = Turn("yes", state={PENDING_ERASURE: "33"}, privacy=DeskPrivacy(held=True)).decide()
    assert d.rule == "pending_erasure" and d.handoff_reason is HandoffReason.PRIVACY_REQUEST
    assert d.privacy is not None
    assert (d.privacy.kind, d.privacy.request_id) == (PrivacyEffectKind.ERASURE_BLOCKED, 33)


def test_stop_with_an_erasure_pending_opts_out() -> None:
    """STOP is never a NO: it opts out (and the desk drops the pending erasure with it)."""
    d = Turn("STOP", state={PENDING_ERASURE: "33"}).decide()
    assert (d.rule, d.consent) == ("consent_keyword", ConsentKeyword.OPT_OUT)


def test_yes_without_a_pending_erasure_erases_nothing() -> None:
    """A stray YES is an ordinary message."""
    d = Turn("yes").decide()
    assert d.rule != "pending_erasure" and d.privacy is None


def test_a_question_with_an_erasure_pending_is_answered() -> None:
    """Anything but YES or NO leaves the erasure pending and goes its own way."""
    d = Turn(
        "How do I reset my PIN?", state={PENDING_ERASURE: "33"}, retrieval=confident(PIN)
    ).decide()
    assert d.rule == "knowledge" and d.privacy is None


# -- people ------------------------------------------------------------------------------------


def test_a_person_owning_the_chat_silences_the_bot() -> None:
    """While an agent owns the conversation the bot neither answers nor searches."""
    turn = Turn("How do I reset my PIN?", human=True, retrieval=confident(PIN))
    d = turn.decide()
    assert (d.rule, d.replies) == ("human_owns_conversation", ())
    assert not turn.searched


@pytest.mark.parametrize(
    "text",
    [
        "I want to speak to a person",
        "agent please",
        "nataka kuongea na mtu",
        "niunganishe na mhudumu",
        "nataka mtu halisi",
    ],
)
def test_asking_for_a_person_hands_off(text: str) -> None:
    """Asking for a person, in English or Swahili, hands off at once and forgets the unsure run."""
    turn = Turn(text, state={CLARIFICATIONS: "1", SUGGESTIONS: "1,2"})
    d = turn.decide()
    assert (d.rule, d.handoff_reason) == ("human_request", HandoffReason.CUSTOMER_REQUEST)
    assert d.replies[0].handoff and outcomes(d) == [Outcome.HANDOFF]
    assert d.state == RESET and not turn.searched


def test_unsupported_media_asks_for_text() -> None:
    """A photo without a caption: the bot says it reads only text."""
    media = (Media("https://api.twilio.example/media/1", "image/jpeg"),)
    d = Turn("", media=media).decide()
    assert (d.rule, outcomes(d)) == ("unsupported_media", [Outcome.UNSUPPORTED_MEDIA])


# -- rating a person's help --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "stars"), [("5", 5), ("4 stars", 4), ("3 nyota", 3), ("2/5", 2), (" 1 ", 1)]
)
def test_a_rating_after_a_resolved_handoff_is_recorded(text: str, stars: int) -> None:
    """1-5 after "how would you rate our help?" rates that handoff and clears the question."""
    d = Turn(text, state={CSAT_HANDOFF: "12"}).decide()
    assert (d.rule, d.rating) == ("csat", (12, stars))
    assert outcomes(d) == [Outcome.RATED] and d.state == {CSAT_HANDOFF: ""}


def test_a_restricted_contact_can_still_rate() -> None:
    """A rating needs no model, so restricted processing does not take it."""
    d = Turn("4", state={CSAT_HANDOFF: "12"}, restricted=True).decide()
    assert (d.rule, d.rating) == ("csat", (12, 4))


@pytest.mark.parametrize(
    ("text", "state"),
    [("5", {}), ("6", {CSAT_HANDOFF: "12"}), ("5 minutes ago I sent money", {CSAT_HANDOFF: "12"})],
)
def test_not_a_rating(text: str, state: dict[str, str]) -> None:
    """No rating question pending, or not a bare 1-5: nothing is rated."""
    d = Turn(text, state=state, retrieval=FAR_OFF).decide()
    assert d.rule != "csat" and d.rating is None


# -- restricted processing, always-human topics, frustration -----------------------------------


@pytest.mark.parametrize("text", ["How do I reset my PIN?", "Nimesahau PIN yangu"])
def test_restricted_contact_is_answered_by_a_person_without_a_search(text: str) -> None:
    """A contact who restricted processing is handed off; their text reaches no model."""
    turn = Turn(text, restricted=True, retrieval=confident(PIN))
    d = turn.decide()
    assert (d.rule, d.handoff_reason) == (
        "restricted_processing",
        HandoffReason.RESTRICTED_PROCESSING,
    )
    assert d.replies[0].handoff and not d.ai_processed
    assert not turn.searched and turn.signals.analysed == []


@pytest.mark.parametrize(
    "text", ["I think this is a scam", "Nimeibiwa simu yangu jana", "kuna utapeli kwa account"]
)
def test_always_human_topic_by_keyword_hands_off(text: str) -> None:
    """The organization's always-human topic (fraud) goes to a person, not the FAQ."""
    turn = Turn(text, retrieval=confident(PIN))
    d = turn.decide()
    assert (d.rule, d.handoff_reason) == ("always_human_topic", HandoffReason.ALWAYS_HUMAN_TOPIC)
    assert d.replies[0].handoff and d.state == RESET
    assert not turn.searched, "keywords alone decide; no search without example phrasings"


def test_a_topic_that_is_not_always_human_is_answered() -> None:
    """A routing topic without always-human only routes handoffs; the FAQ still answers."""
    d = Turn("pesa imepotea", retrieval=confident(BALANCE)).decide()
    assert d.rule == "knowledge" and d.handoff_reason is None


def test_topics_with_examples_share_the_turns_one_search() -> None:
    """Comparing with a topic's examples needs the search; the knowledge rule reuses it."""
    examples = RoutingRule("topic", "loans", ("mkopo",), ("I can't repay",), None, 0, True, 3)
    turn = Turn("How do I reset my PIN?", retrieval=confident(PIN), routing=(FRAUD, examples))
    d = turn.decide()
    assert d.rule == "knowledge"
    assert turn.retriever.searches == ["How do I reset my PIN?"]


@pytest.mark.parametrize(
    "text",
    [
        "This is the THIRD TIME I am asking, you people are useless!!!",
        "Nimeuliza mara tatu na bado hamjanijibu!!!",
    ],
)
def test_frustration_hands_off(text: str) -> None:
    """An angry customer who had to ask again gets a person, before any FAQ answer."""
    turn = Turn(text, retrieval=confident(PIN))
    d = turn.decide()
    assert (d.rule, d.handoff_reason) == ("frustration", HandoffReason.FRUSTRATION)
    assert d.replies[0].handoff and d.state == RESET
    assert not turn.searched


def test_a_calm_question_is_not_frustration() -> None:
    """Sentiment is read, and a calm question goes on to the knowledge base."""
    turn = Turn("How do I reset my PIN?", retrieval=confident(PIN))
    assert turn.decide().rule == "knowledge"
    assert turn.signals.analysed == ["How do I reset my PIN?"]


# -- "did you mean", the offer of a person, small talk ----------------------------------------


@pytest.mark.parametrize("text", ["2", "2.", " 2) "])
def test_a_bare_number_picks_the_suggestion(text: str) -> None:
    """After "did you mean 1. PIN 2. balance", "2" answers the balance entry, no search."""
    turn = Turn(text, state={SUGGESTIONS: "1,2", CLARIFICATIONS: "1"})
    d = turn.decide()
    assert d.rule == "suggestion_choice" and looked_up == [BALANCE.entry_id]
    assert outcomes(d) == [Outcome.ANSWERED]
    assert d.replies[0].sources[0].entry_id == BALANCE.entry_id
    assert d.state == RESET and not turn.searched


def test_a_number_beyond_the_suggestions_is_a_message() -> None:
    """ "3" with two suggestions picks nothing."""
    d = Turn("3", state={SUGGESTIONS: "1,2"}, retrieval=FAR_OFF).decide()
    assert d.rule == "knowledge"


def test_a_suggestion_removed_since_asks_to_rephrase() -> None:
    """The entry offered was deleted since: the customer is asked to rephrase."""
    d = Turn("1", state={SUGGESTIONS: "99"}).decide()
    assert (d.rule, outcomes(d)) == ("suggestion_choice", [Outcome.CLARIFY])


@pytest.mark.parametrize(
    ("language", "text"),
    [("sw", "ndiyo"), ("sw", "Sawa tafadhali"), ("en", "yes please"), ("en", "ok")],
)
def test_yes_to_the_offer_of_a_person_hands_off(language: str, text: str) -> None:
    """Yes to "shall I get a person?" hands off, in the customer's language."""
    d = Turn(text, state={HANDOFF_OFFERED: language}, language=language).decide()
    assert (d.rule, d.handoff_reason) == ("handoff_offer", HandoffReason.CUSTOMER_REQUEST)
    assert d.replies[0].handoff and d.state[HANDOFF_OFFERED] == ""
    assert d.replies[0].text == translate(language, HANDOFF_REPLY)
    assert (d.replies[0].text == HANDOFF_REPLY.msgid) is (language == "en")


@pytest.mark.parametrize(
    ("language", "text"), [("sw", "hapana"), ("sw", "si sasa"), ("en", "no thanks")]
)
def test_no_to_the_offer_of_a_person_stays_with_the_bot(language: str, text: str) -> None:
    """No to the offer: no handoff, the offer is forgotten."""
    d = Turn(text, state={HANDOFF_OFFERED: language}).decide()
    assert d.rule == "handoff_offer" and d.handoff_reason is None
    assert not d.replies[0].handoff and d.state[HANDOFF_OFFERED] == ""


def test_a_button_answers_the_offer() -> None:
    """A quick-reply button's payload is read like typed text."""
    d = Turn("", button_payload="yes", state={HANDOFF_OFFERED: "en"}).decide()
    assert (d.rule, d.handoff_reason) == ("handoff_offer", HandoffReason.CUSTOMER_REQUEST)


def test_ndiyo_without_an_offer_hands_nothing_off() -> None:
    """Yes with no offer pending is an ordinary message."""
    d = Turn("ndiyo", retrieval=FAR_OFF).decide()
    assert d.rule == "knowledge" and d.handoff_reason is None


@pytest.mark.parametrize(
    "text", ["hello", "Good morning!", "Habari yako", "asante sana", "kwaheri"]
)
def test_small_talk_is_answered_without_a_search(text: str) -> None:
    """Greetings, thanks and goodbyes in both languages need no knowledge base."""
    turn = Turn(text, retrieval=confident(PIN))
    d = turn.decide()
    assert (d.rule, outcomes(d)) == ("small_talk", [Outcome.SMALL_TALK])
    assert not turn.searched


def test_a_greeting_with_a_question_is_a_question() -> None:
    """ "hi, how do I reset my PIN?" goes to the knowledge base."""
    assert Turn("hi, how do I reset my PIN?", retrieval=confident(PIN)).decide().rule == "knowledge"


# -- the knowledge base ------------------------------------------------------------------------


def test_confident_answer_is_grounded_in_the_answered_entry_first() -> None:
    """A confident match answers with its entry; a model writing it sees that entry first."""
    retrieval = confident(PIN, Candidate(BALANCE, 0.52), Candidate(STATEMENT, 0.2))
    turn = Turn("I forgot my PIN", retrieval=retrieval, state={CLARIFICATIONS: "1"})
    d = turn.decide()
    assert d.rule == "knowledge" and d.ai_processed and d.handoff_reason is None
    assert outcomes(d) == [Outcome.ANSWERED]
    assert d.replies[0].sources[0].entry_id == PIN.entry_id
    assert d.grounding == (PIN, BALANCE), "the answered entry, then others about as close"
    assert d.state == RESET
    assert turn.retriever.searches == ["I forgot my PIN"], "searched once"


def test_unsure_with_plausible_candidates_offers_choices() -> None:
    """Unsure, with close entries: "did you mean" them, remembered for a bare number."""
    d = Turn("my pin balance thing", retrieval=UNSURE_PIN_OR_BALANCE).decide()
    assert d.rule == "knowledge" and d.handoff_reason is None
    assert kinds(d) == [ReplyKind.CLARIFY] and outcomes(d) == [Outcome.OFFERED_CHOICES]
    assert d.state == {CLARIFICATIONS: "1", SUGGESTIONS: "1,2"}, "the far entry is not offered"
    assert "1. How do I reset my PIN?" in d.replies[0].text
    assert d.grounding == (PIN, BALANCE)
    # The same choices as typed options, for channels with buttons: the id is what one types.
    assert [(o.id, o.title) for o in d.replies[0].options] == [
        ("1", "How do I reset my PIN?"),
        ("2", "How do I check my balance?"),
    ]


def test_a_swahili_customer_is_offered_the_choices_in_swahili() -> None:
    """The prompt in Swahili, each entry asked as the FAQ asks it in Swahili where it can."""
    pin = EntryInfo(
        1,
        "pin",
        "How do I reset my PIN?",
        "Dial *334#.",
        "Security",
        question_translations=(("sw", "Nitabadilishaje PIN yangu?"),),
    )
    retrieval = unsure(Candidate(pin, 0.61), Candidate(BALANCE, 0.47))
    d = Turn("pin na salio", retrieval=retrieval, language="sw").decide()
    assert outcomes(d) == [Outcome.OFFERED_CHOICES]
    assert d.replies[0].text == (
        "Samahani, sijaelewa vizuri. Je, ulimaanisha mojawapo ya haya?\n"
        "1. Nitabadilishaje PIN yangu?\n"
        "2. How do I check my balance?\n"
        "Jibu kwa nambari yake, au uliza swali lako kwa njia nyingine."
    )
    assert [o.title for o in d.replies[0].options] == [
        "Nitabadilishaje PIN yangu?",
        "How do I check my balance?",
    ]


def test_an_answer_in_the_customers_language_or_said_to_be_in_another() -> None:
    """The entry's Swahili answer for a Swahili customer; an English-only one with a note."""
    pin = EntryInfo(
        1,
        "pin",
        "How do I reset my PIN?",
        "Dial *334#.",
        None,
        translations=(("sw", "Piga *334#."),),
    )
    assert Turn("PIN yangu", retrieval=confident(pin), language="sw").decide().replies[0].text == (
        "Piga *334#."
    )
    assert Turn("salio", retrieval=confident(BALANCE), language="sw").decide().replies[0].text == (
        "Jibu hili linapatikana kwa Kiingereza pekee:\nDial *483*1#."
    )
    swahili_only = EntryInfo(7, "m", "Mkopo wa dharura?", "Piga *483*5#.", None, language="sw")
    assert Turn("loan", retrieval=confident(swahili_only)).decide().replies[0].text == (
        "This answer is only available in Swahili:\nPiga *483*5#."
    )


@pytest.mark.parametrize(
    ("text", "language", "confirmation"),
    [
        ("ongea Kiswahili", "sw", "Sawa, nitakujibu kwa Kiswahili kuanzia sasa. Nikusaidie vipi?"),
        ("English please", "en", "Sure, I'll reply in English from now on. How can I help?"),
    ],
)
def test_asking_for_a_language_is_confirmed_in_it(
    text: str, language: str, confirmation: str
) -> None:
    """No search, no model: the choice is confirmed in the new language and remembered."""
    turn = Turn(text, retrieval=confident(PIN), language="en" if language == "sw" else "sw")
    d = turn.decide()
    assert (d.rule, d.language_choice) == ("language_choice", language)
    assert [r.text for r in d.replies] == [confirmation]
    assert outcomes(d) == [Outcome.LANGUAGE_CHOSEN] and not turn.searched


def test_offered_choices_then_a_number_answers() -> None:
    """The state an unsure turn leaves makes the next turn's "2" an answer."""
    first = Turn("my pin balance thing", retrieval=UNSURE_PIN_OR_BALANCE).decide()
    second = Turn("2", state=first.state).decide()
    assert second.rule == "suggestion_choice"
    assert second.replies[0].sources[0].entry_id == BALANCE.entry_id


def test_unsure_without_candidates_asks_to_rephrase() -> None:
    """Nothing close enough to offer: a plain "could you rephrase?"."""
    d = Turn("mambo ya jana", retrieval=FAR_OFF).decide()
    assert outcomes(d) == [Outcome.CLARIFY]
    assert d.state == {CLARIFICATIONS: "1", SUGGESTIONS: ""} and d.grounding == ()


def test_second_unsure_turn_hands_off_for_low_confidence() -> None:
    """Unsure after one clarification already: a person takes the question."""
    d = Turn("bado sielewi", retrieval=UNSURE_PIN_OR_BALANCE, state={CLARIFICATIONS: "1"}).decide()
    assert (d.rule, d.handoff_reason) == ("knowledge", HandoffReason.LOW_CONFIDENCE)
    assert d.replies[0].handoff and outcomes(d) == [Outcome.HANDOFF]
    assert d.state == RESET


def test_a_disambiguator_that_picks_a_candidate_makes_an_answer() -> None:
    """The organization's AI picks the second plausible entry: that entry is the answer."""
    ai = PicksCandidate(1)
    d = Turn("my pin balance thing", retrieval=UNSURE_PIN_OR_BALANCE, disambiguator=ai).decide()
    assert ai.asked == [("my pin balance thing", (PIN.entry_id, BALANCE.entry_id))]
    assert outcomes(d) == [Outcome.ANSWERED]
    assert d.replies[0].sources[0].entry_id == BALANCE.entry_id
    assert d.grounding[0] == BALANCE and d.state == RESET


def test_a_disambiguator_that_cannot_tell_leaves_the_choice_to_the_customer() -> None:
    """The AI picks none: the customer is offered the choices as without it."""
    ai = PicksCandidate(None)
    d = Turn("my pin balance thing", retrieval=UNSURE_PIN_OR_BALANCE, disambiguator=ai).decide()
    assert outcomes(d) == [Outcome.OFFERED_CHOICES] and len(ai.asked) == 1


def test_nothing_plausible_is_never_shown_to_the_disambiguator() -> None:
    """Candidates below the suggestion threshold are not sent to an AI provider."""
    ai = PicksCandidate(0)
    d = Turn("mambo ya jana", retrieval=FAR_OFF, disambiguator=ai).decide()
    assert ai.asked == [] and outcomes(d) == [Outcome.CLARIFY]

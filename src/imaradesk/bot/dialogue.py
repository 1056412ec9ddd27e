"""The dialogue manager: handles one inbound message, once, and remembers everything about it.

A turn holds the conversation's lock, replays the stored replies if this provider message id
was already handled (a retried webhook), decides with the ordered rules, and stores the
inbound message, the replies, consent and handoff in a single transaction. The database's
unique constraint on the provider message id is the last word on duplicates.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError

from imaradesk.bot.handoff_offer import HANDOFF_OFFERED, HandoffOfferRule
from imaradesk.bot.handoff_router import HandoffPlan, HandoffRouter
from imaradesk.bot.intent_backends import IntentBackends
from imaradesk.bot.privacy_rules import (
    PENDING_ERASURE,
    PendingErasureRule,
    PrivacyEffect,
    PrivacyRequestRule,
    RestrictedProcessingRule,
)
from imaradesk.bot.rules import (
    CLARIFICATIONS,
    CSAT_HANDOFF,
    SUGGESTION_MIN_SIMILARITY,
    SUGGESTIONS,
    AlwaysHumanTopicRule,
    ConsentKeywordRule,
    CsatRule,
    Decision,
    FrustrationRule,
    HumanOwnsConversationRule,
    HumanRequestRule,
    KnowledgeRule,
    OptedOutRule,
    Rule,
    SmallTalkRule,
    SuggestionChoiceRule,
    TurnContext,
    UnsupportedMediaRule,
    decide,
)
from imaradesk.channels.messages import InboundMessage, OutboundMessage, ReplyKind, Source, Turn
from imaradesk.compliance.desk import ExportLink, PrivacyDesk
from imaradesk.knowledge_index.knowledge_base import Candidate, KnowledgeBase
from imaradesk.llm.gateway import AIGateway
from imaradesk.llm.grounded import LANGUAGES, GroundedAnswers
from imaradesk.pii.recent_names import recent_names
from imaradesk.policies import consent as consent_policy
from imaradesk.policies.consent import ConsentKeyword
from imaradesk.policies.handoff import LowConfidencePolicy
from imaradesk.policies.retention import retain_until
from imaradesk.runtime.clock import Clock
from imaradesk.storage.compliance_repository import ComplianceData
from imaradesk.storage.conversation_state import ConversationStateStore
from imaradesk.storage.db import Database
from imaradesk.storage.locks import LockManager
from imaradesk.storage.models import (
    ConsentAction,
    ConsentRecord,
    Contact,
    Conversation,
    ConversationStatus,
    Direction,
    ErasureTombstone,
    LawfulBasis,
    Message,
    Organization,
    PrivacyRequestStatus,
)
from imaradesk.storage.repositories import OrgData

log = logging.getLogger(__name__)
DEFAULT_LOW_CONFIDENCE = LowConfidencePolicy()
DISAMBIGUATION_PROMPT = (
    "You match a customer's message to the questions of a company's FAQ. Reply with only the "
    "number of the FAQ question that asks the same thing as the customer, or 0 if none does."
)


class DialogueError(Exception):
    """Base of dialogue errors."""


class WrongOrganization(DialogueError):
    """The message names another organization than the one handling it."""


class ErasureNotDone(DialogueError):
    """A confirmed erasure failed after its reply was stored."""


ERASURE_FAILED = (
    "Sorry, we could not finish erasing your data just now. Nothing is lost: your request is "
    "recorded and a member of our team will complete it and confirm here."
)


@dataclass(frozen=True)
class _Observed:
    """What the database said about the sender before the turn was decided."""

    contact: Contact | None
    latest_consent: ConsentRecord | None
    conversation: Conversation | None
    # For a sender we do not know: erasures of the same identity, to refuse replays.
    tombstones: tuple[ErasureTombstone, ...] = ()


def conversation_lock_name(org_id: int, channel: str, sender_id: str) -> str:
    """One lock per conversation. Lock names show up in Redis and in timeout errors, so they
    carry a digest of the sender, not a phone number."""
    sender = hashlib.blake2b(sender_id.encode(), digest_size=16).hexdigest()
    return f"conversation:{org_id}:{channel}:{sender}"


class DialogueManager:
    def __init__(
        self,
        *,
        database: Database,
        knowledge: KnowledgeBase,
        state: ConversationStateStore,
        locks: LockManager,
        clock: Clock,
        conversation_idle: timedelta = timedelta(hours=24),
        low_confidence: LowConfidencePolicy = DEFAULT_LOW_CONFIDENCE,
        ai: AIGateway | None = None,
        privacy: PrivacyDesk | None = None,
        router: HandoffRouter | None = None,
        intents: IntentBackends | None = None,
    ) -> None:
        self._router = router
        # An organization's own Rasa server, asked before our retrieval when it has one.
        self._intents = intents or IntentBackends()
        self._ai = ai or AIGateway(None)
        self._grounded = GroundedAnswers(self._ai)
        self._privacy = privacy
        self._db = database
        self._knowledge = knowledge
        self._state = state
        self._locks = locks
        self._clock = clock
        self._conversation_idle = conversation_idle
        self._low_confidence = low_confidence

    def handle(self, org: Organization, inbound: InboundMessage) -> Turn:
        """Handle one inbound message of ``org``; a repeat of a handled one replays its replies."""
        if inbound.org_slug != org.slug or org.id is None:
            raise WrongOrganization(f"message for {inbound.org_slug!r} handed to {org.slug!r}")
        # Logs redact the names that channels tell us, wherever they appear.
        recent_names.add(inbound.profile_name)
        with self._locks.hold(conversation_lock_name(org.id, inbound.channel, inbound.sender_id)):
            try:
                return self._handle_locked(org, inbound)
            except IntegrityError:
                # Another process stored this provider message id first (no shared lock).
                replay = self._replay(org.id, inbound)
                if replay is not None:
                    return replay
                return self._handle_locked(org, inbound)

    # -- the turn ------------------------------------------------------------------------------

    def _handle_locked(self, org: Organization, inbound: InboundMessage) -> Turn:
        assert org.id is not None
        observed = self._observe(org.id, inbound)
        if isinstance(observed, Turn):
            return observed
        contact = observed.contact
        if (
            contact is None
            and self._privacy is not None
            and self._privacy.is_replay_of_erased(
                org,
                tombstones=observed.tombstones,
                channel=inbound.channel,
                provider_message_id=inbound.provider_message_id,
            )
        ):
            # An old delivery of a contact who has been erased: it must not bring them back.
            log.info("ignored a replay of an erased contact's message", extra={"org_id": org.id})
            return Turn(replies=(), inbound_message_id=None, duplicate=True)
        state = self._state.get(org.id, contact.id) if contact and contact.id else {}
        conversation = observed.conversation
        ctx = TurnContext(
            inbound=inbound,
            is_new_contact=contact is None,
            opted_out=bool(contact and contact.opted_out),
            human_owns_conversation=bool(
                conversation and conversation.status == ConversationStatus.HANDOFF
            ),
            state=state,
            search=lambda text: self._knowledge.search(org.id, text, revision=org.kb_revision),  # type: ignore[arg-type]
            disambiguate=self._disambiguator(org, contact, inbound),
            restricted=bool(contact and contact.restricted),
            privacy=_ContactPrivacy(self._privacy, org, contact) if self._privacy else None,
            routing_rules=tuple(self._router.rules(org.id)) if self._router else (),
            sentiment_of=self._router.sentiment.analyse if self._router else None,
            topic_like=(lambda text, retrieval: self._router.topic_like(org, text, retrieval))
            if self._router
            else None,
        )
        decision = decide(self._rules(org), ctx)
        # Before _store: the provider call must not hold a database write transaction.
        decision = self._write_answer(org, contact, inbound, decision, ctx)
        plan = self._plan_handoff(org, observed, inbound, decision, ctx)
        turn, contact_id = self._store(org, inbound, observed, decision, plan)
        state_update = dict(decision.state)
        if ctx.csat_handoff is not None and decision.rating is None:
            state_update[CSAT_HANDOFF] = ""  # they moved on without rating
        if ctx.state.get(HANDOFF_OFFERED) and HANDOFF_OFFERED not in state_update:
            state_update[HANDOFF_OFFERED] = ""  # an offer of a person holds for one message
        erased = False
        if self._privacy is not None and contact_id is not None:
            try:
                changes, erased = self._carry_out_privacy(org, contact_id, inbound, ctx, decision)
            except ErasureNotDone:
                turn = self._correct_reply(org, turn, ERASURE_FAILED)
                changes = {PENDING_ERASURE: ""}
            state_update.update(changes)
        if state_update and contact_id is not None and not erased:
            self._state.update(org.id, contact_id, state_update)
        log.info(
            "turn handled",
            extra={
                "org_id": org.id,
                "channel": inbound.channel,
                "rule": decision.rule,
                "replies": len(turn.replies),
                "handoff": decision.handoff_reason,
            },
        )
        return turn

    def _correct_reply(self, org: Organization, turn: Turn, text: str) -> Turn:
        """Replace the turn's last reply, stored and returned, so that a retry replays the truth."""
        last = turn.replies[-1]
        with self._db.write() as session:
            data = OrgData(session, org.id)  # type: ignore[arg-type]
            row = data.get_message(last.message_id) if last.message_id else None
            if row is not None:
                data.update_message(row, body=text)
        corrected = OutboundMessage(text, last.kind, (), last.handoff, last.message_id)
        return Turn(turn.replies[:-1] + (corrected,), turn.inbound_message_id, turn.duplicate)

    def _plan_handoff(
        self,
        org: Organization,
        observed: _Observed,
        inbound: InboundMessage,
        decision: Decision,
        ctx: TurnContext,
    ) -> HandoffPlan | None:
        if decision.handoff_reason is None or self._router is None:
            return None
        recent: list[str] = []
        if observed.conversation is not None and observed.conversation.id is not None:
            with self._db.read() as session:
                messages = OrgData(session, org.id).messages_of(observed.conversation.id)  # type: ignore[arg-type]
            recent = [m.body for m in messages if m.direction == Direction.INBOUND and m.body][-5:]
        # No model looks at the words of a contact who restricted processing.
        return self._router.plan(
            org,
            trigger=decision.handoff_reason.value,
            latest=ctx.text,
            recent=recent,
            use_model=not ctx.restricted,
            # The turn's search, if it made one (cached_property keeps it in the instance dict).
            retrieval=ctx.__dict__.get("retrieval"),
        )

    def _carry_out_privacy(
        self,
        org: Organization,
        contact_id: int,
        inbound: InboundMessage,
        ctx: TurnContext,
        decision: Decision,
    ) -> tuple[dict[str, str], bool]:
        """Apply the turn's data-protection effect; return state changes and whether erased."""
        assert self._privacy is not None
        desk = self._privacy
        channel = inbound.channel
        pending = ctx.pending_erasure
        changes: dict[str, str] = {}
        effect: PrivacyEffect | None = decision.privacy
        if pending is not None and (effect is None or effect.request_id != pending):
            # Anything but YES or NO to "Reply YES to erase" keeps the data.
            desk.set_status(
                org,
                pending,
                PrivacyRequestStatus.CANCELLED,
                actor="customer",
                outcome="not confirmed",
            )
            changes[PENDING_ERASURE] = ""
        if effect is None:
            return changes, False
        kind = effect.kind
        if kind == "request_erasure":
            request = desk.open_request(
                org, contact_id=contact_id, right=effect.right, channel=channel,
                status=PrivacyRequestStatus.AWAITING_CONFIRMATION,
            )  # fmt: skip
            changes[PENDING_ERASURE] = str(request.id)
        elif kind == "erase":
            assert effect.request_id is not None
            desk.set_status(
                org,
                effect.request_id,
                PrivacyRequestStatus.OPEN,
                actor="customer",
                outcome="confirmed",
            )
            try:
                desk.erase(org, contact_id, request_id=effect.request_id)
            except Exception:  # the reply already says "erased": it must not stay untrue
                log.exception("erasure failed", extra={"org_id": org.id})
                desk.set_status(
                    org,
                    effect.request_id,
                    PrivacyRequestStatus.BLOCKED,
                    actor="bot",
                    outcome="erasure failed; passed to a person",
                )
                raise ErasureNotDone(effect.request_id) from None
            return changes, True
        elif kind == "erasure_blocked":
            assert effect.request_id is not None
            desk.set_status(
                org,
                effect.request_id,
                PrivacyRequestStatus.BLOCKED,
                actor="bot",
                outcome="legal hold; passed to a person",
            )
            changes[PENDING_ERASURE] = ""
        elif kind == "cancel":
            assert effect.request_id is not None
            desk.set_status(
                org,
                effect.request_id,
                PrivacyRequestStatus.CANCELLED,
                actor="customer",
                outcome="kept",
            )
            changes[PENDING_ERASURE] = ""
        elif kind in ("access", "access_nothing"):
            desk.open_request(
                org, contact_id=contact_id, right=effect.right, channel=channel,
                status=PrivacyRequestStatus.COMPLETED,
                outcome="export link sent" if kind == "access" else "nothing held before",
            )  # fmt: skip
        elif kind == "rectify":
            assert effect.correction is not None
            desk.rectify(org, contact_id, effect.correction, channel=channel)
        elif kind == "rectify_by_human":
            desk.open_request(
                org, contact_id=contact_id, right=effect.right, channel=channel,
                status=PrivacyRequestStatus.OPEN, detail=inbound.text, outcome="passed to a person",
            )  # fmt: skip
        elif kind in ("restrict", "lift"):
            desk.set_restricted(org, contact_id, kind == "restrict", channel=channel)
        elif kind == "refuse":
            desk.open_request(
                org, contact_id=contact_id, right=effect.right, channel=channel,
                status=PrivacyRequestStatus.REFUSED, outcome="about another person or number",
            )  # fmt: skip
        return changes, False

    def _write_answer(
        self,
        org: Organization,
        contact: Contact | None,
        inbound: InboundMessage,
        decision: Decision,
        ctx: TurnContext,
    ) -> Decision:
        """Let the organization's AI write the knowledge rule's answer from the retrieved
        entries, when it generates answers; on any failure the extractive decision stands."""
        if decision.rule != KnowledgeRule.name or len(decision.replies) != 1:
            return decision
        if not self._ai.generates_for(org, ctx.restricted):
            return decision
        reply, candidates = decision.replies[0], ctx.retrieval.candidates
        if reply.kind is ReplyKind.ANSWER and reply.sources:
            # The confident entry first, then the next ones that are about as close.
            best = reply.sources[0].entry_id
            entries = [c.entry for c in candidates if c.entry.entry_id == best] + [
                c.entry
                for c in candidates
                if c.entry.entry_id != best and c.similarity >= SUGGESTION_MIN_SIMILARITY
            ]
        elif reply.kind is ReplyKind.CLARIFY and decision.state.get(SUGGESTIONS):
            # Unsure, but with plausible entries: the model may find the answer among them.
            offered = {int(i) for i in decision.state[SUGGESTIONS].split(",") if i.isdigit()}
            entries = [c.entry for c in candidates if c.entry.entry_id in offered]
        else:
            return decision
        if contact is not None and contact.preferred_language in LANGUAGES:
            language = contact.preferred_language
        else:
            language = self._router.language.detect(ctx.text) if self._router else "en"
        written = self._grounded.answer(
            org,
            question=ctx.text,
            entries=entries,
            language=language,
            names=[n for n in (inbound.profile_name, contact and contact.display_name) if n],
            contact_restricted=ctx.restricted,
        )
        if written is None:
            return decision
        if not written.answered:
            offer = OutboundMessage(written.text, ReplyKind.CLARIFY)
            state = {**decision.state, SUGGESTIONS: "", HANDOFF_OFFERED: language}
            return replace(decision, replies=(offer,), state=state)
        score = {c.entry.entry_id: round(c.similarity, 4) for c in candidates}
        score.update({s.entry_id: s.score for s in reply.sources})
        sources = tuple(
            Source(e.entry_id, e.external_id, e.question, score.get(e.entry_id, 0.0))
            for e in written.cited
        )
        answer = OutboundMessage(written.text, ReplyKind.ANSWER, sources=sources)
        state = {**decision.state, CLARIFICATIONS: "0", SUGGESTIONS: ""}
        return replace(decision, replies=(answer,), state=state)

    def _disambiguator(
        self, org: Organization, contact: Contact | None, inbound: InboundMessage
    ) -> Callable[[str, Sequence[Candidate]], Candidate | None] | None:
        # Where the AI writes the answers, it also judges unsure candidates, in the same call.
        if not self._ai.allowed_for(org) or self._ai.generates_for(org):
            return None
        names = [n for n in (inbound.profile_name, contact.display_name if contact else None) if n]

        def choose(text: str, candidates: Sequence[Candidate]) -> Candidate | None:
            listing = "\n".join(f"{i}. {c.entry.question}" for i, c in enumerate(candidates, 1))
            answer = self._ai.complete(
                org,
                purpose="disambiguation",
                system=DISAMBIGUATION_PROMPT,
                prompt=f"Customer: {text}\nFAQ questions:\n{listing}\nNumber:",
                names=names,
                max_tokens=8,
            )
            if answer is None:
                return None
            match = re.search(r"\d+", answer.text)
            number = int(match.group()) if match else 0
            return candidates[number - 1] if 1 <= number <= len(candidates) else None

        return choose

    def _rules(self, org: Organization) -> list[Rule]:
        assert org.id is not None
        org_id, revision = org.id, org.kb_revision

        def lookup(entry_id: int) -> Candidate | None:
            entry = self._knowledge.snapshot(org_id, revision=revision).entries.get(entry_id)
            return Candidate(entry, 1.0) if entry else None

        privacy: list[Rule] = [PrivacyRequestRule()] if self._privacy else []
        # A NO (or "cancel") to "Reply YES to erase" is an answer, not an opt-out keyword.
        pending: list[Rule] = [PendingErasureRule()] if self._privacy else []
        return [
            *pending,
            ConsentKeywordRule(),
            *privacy,
            OptedOutRule(),
            HumanOwnsConversationRule(),
            UnsupportedMediaRule(),
            HumanRequestRule(),
            CsatRule(),  # a rating needs no model, restricted or not
            RestrictedProcessingRule(),
            AlwaysHumanTopicRule(),
            FrustrationRule(),
            SuggestionChoiceRule(lookup),
            HandoffOfferRule(),
            SmallTalkRule(),
            *self._intents.rules_for(org, self._knowledge),
            KnowledgeRule(self._low_confidence),
        ]

    def _observe(self, org_id: int, inbound: InboundMessage) -> _Observed | Turn:
        """What the database knows of the sender, or the stored turn if this is a repeat.

        One read transaction: it runs on every message.
        """
        with self._db.read() as session:
            data = ComplianceData(session, org_id)
            contact = data.find_contact(inbound.channel, inbound.sender_id)
            if contact is None or contact.id is None:
                identity = data.identity_hash(inbound.channel, inbound.sender_id)
                return _Observed(None, None, None, tuple(data.tombstones_for(identity)))
            replay = self._replay_in(data, inbound, contact.id)
            if replay is not None:
                return replay
            return _Observed(
                contact, data.latest_consent(contact.id), data.current_conversation(contact.id)
            )

    def _replay(self, org_id: int, inbound: InboundMessage) -> Turn | None:
        with self._db.read() as session:
            data = OrgData(session, org_id)
            contact = data.find_contact(inbound.channel, inbound.sender_id)
            if contact is None or contact.id is None:
                return None
            return self._replay_in(data, inbound, contact.id)

    @staticmethod
    def _replay_in(data: OrgData, inbound: InboundMessage, contact_id: int) -> Turn | None:
        """The stored turn of this sender's message with this provider id, if any."""
        existing = data.find_message(
            channel=inbound.channel,
            direction=Direction.INBOUND,
            provider_message_id=inbound.provider_message_id,
            contact_id=contact_id,
        )
        if existing is None or existing.id is None:
            return None
        replies = tuple(_outbound_from_row(m) for m in data.replies_to(existing.id))
        return Turn(replies=replies, inbound_message_id=existing.id, duplicate=True)

    # -- storing ------------------------------------------------------------------------------

    def _store(
        self,
        org: Organization,
        inbound: InboundMessage,
        observed: _Observed,
        decision: Decision,
        plan: HandoffPlan | None = None,
    ) -> tuple[Turn, int | None]:
        assert org.id is not None
        now = self._clock.now()
        keep_until = retain_until(now, org.retention_days)
        with self._db.write() as session:
            data = OrgData(session, org.id)
            contact = observed.contact
            if contact is None:
                contact = data.add_contact(
                    channel=inbound.channel,
                    address=inbound.sender_id,
                    display_name=inbound.profile_name,
                    now=now,
                    retain_until=keep_until,
                    legal_hold=org.legal_hold,
                )
            else:
                changes: dict[str, object] = {"retain_until": max(contact.retain_until, keep_until)}
                if inbound.profile_name and inbound.profile_name != contact.display_name:
                    changes["display_name"] = inbound.profile_name
                data.update_contact(contact, **changes)
            assert contact.id is not None

            record, notice = self._record_consent(
                data, org, contact, observed, decision, inbound, now, keep_until
            )
            conversation = self._conversation_for(
                data, contact, observed.conversation, inbound, now, keep_until
            )
            assert conversation.id is not None
            # New rows join any legal hold already covering their conversation.
            held = bool(org.legal_hold or contact.legal_hold or conversation.legal_hold)

            basis = (
                LawfulBasis.CONSENT
                if record is not None and record.action == ConsentAction.GRANTED
                else LawfulBasis.LEGITIMATE_INTERESTS
            )
            inbound_row = data.add_message(
                conversation_id=conversation.id,
                contact_id=contact.id,
                direction=Direction.INBOUND,
                channel=inbound.channel,
                provider_message_id=inbound.provider_message_id,
                kind="text" if inbound.text else ("media" if inbound.media else "empty"),
                body=inbound.text,
                media=[{"url": m.url, "content_type": m.content_type} for m in inbound.media],
                button_payload=inbound.button_payload,
                ai_processed=decision.ai_processed,
                consent_record_id=record.id if record else None,
                lawful_basis=basis,
                created_at=inbound.received_at,
                retain_until=retain_until(inbound.received_at, org.retention_days),
                legal_hold=held,
            )
            assert inbound_row.id is not None

            replies = list(decision.replies)
            if notice is not None:
                replies.insert(0, OutboundMessage(notice, ReplyKind.PRIVACY_NOTICE))
            rows: list[tuple[OutboundMessage, Message]] = []
            for position, reply in enumerate(replies):
                best = reply.sources[0] if reply.sources else None
                row = data.add_message(
                    flush=False,
                    conversation_id=conversation.id,
                    contact_id=contact.id,
                    direction=Direction.OUTBOUND,
                    channel=inbound.channel,
                    reply_to_id=inbound_row.id,
                    position=position,
                    kind=reply.kind.value,
                    body=reply.text,
                    sources=[_source_dict(s) for s in reply.sources],
                    answer_entry_id=best.entry_id if best else None,
                    answer_score=best.score if best else None,
                    handoff=reply.handoff,
                    consent_record_id=record.id if record else None,
                    lawful_basis=basis,
                    created_at=now,
                    # Never outlive the message they answer (the sweep deletes both together).
                    retain_until=inbound_row.retain_until,
                    legal_hold=held,
                )
                rows.append((reply, row))

            data.flush()  # one round trip for all the replies; their ids are needed below
            stored = [
                OutboundMessage(reply.text, reply.kind, reply.sources, reply.handoff, row.id)
                for reply, row in rows
            ]
            already = (
                data.open_handoff(conversation.id) if decision.handoff_reason is not None else None
            )
            if already is not None:
                # One open handoff per conversation: a new reason is added to it.
                data.note_on_handoff(
                    already, f"also: {decision.handoff_reason.value.replace('_', ' ')}"
                )
            elif decision.handoff_reason is not None:
                routed: dict[str, object] = {}
                if plan is not None:
                    c = plan.classification
                    routed = {
                        "topic": c.topic[:100] if c.topic else None,
                        "language": c.language,
                        "sentiment": c.sentiment,
                        "urgency": c.urgency,
                        "priority": plan.priority,
                        "team_id": plan.team_id,
                        "assigned_agent_id": plan.agent_id,
                        "routing_reasons": list(plan.reasons),
                        "summary": plan.summary,
                        "suggested_entry_ids": list(plan.suggested_entry_ids),
                    }
                data.add_handoff(
                    conversation_id=conversation.id,
                    contact_id=contact.id,
                    reason=decision.handoff_reason.value,
                    detail=None,
                    now=now,
                    retain_until=retain_until(now, org.handoff_retention_days),
                    legal_hold=held,
                    **routed,
                )
                data.update_conversation(conversation, status=ConversationStatus.HANDOFF)
            if decision.rating is not None:
                data.rate_handoff(*decision.rating)
            if not contact.restricted:
                # Restricted contacts are kept out of analytics, as they asked.
                data.count_turn(
                    analytics_ref=org.analytics_ref,
                    day=inbound.received_at.date().isoformat(),
                    answers=sum(r.kind is ReplyKind.ANSWER for r in replies),
                    handoffs=int(decision.handoff_reason is not None),
                )
            contact_id = contact.id
        return Turn(replies=tuple(stored), inbound_message_id=inbound_row.id), contact_id

    def _record_consent(
        self,
        data: OrgData,
        org: Organization,
        contact: Contact,
        observed: _Observed,
        decision: Decision,
        inbound: InboundMessage,
        now: datetime,
        keep_until: datetime,
    ) -> tuple[ConsentRecord | None, str | None]:
        """Append the consent record this turn calls for; return the one in force and a notice."""
        assert contact.id is not None
        latest = observed.latest_consent
        if decision.consent is ConsentKeyword.OPT_OUT:
            data.update_contact(contact, opted_out=True)
            record = data.add_consent(
                contact_id=contact.id,
                action=ConsentAction.WITHDRAWN,
                purpose=consent_policy.SUPPORT_PURPOSE,
                channel=contact.channel,
                notice_version=latest.notice_version if latest else org.privacy_notice_version,
                method=f"opt-out keyword {inbound.text.strip().upper()[:20]!r}",
                now=now,
                retain_until=keep_until,
            )
            return record, None
        if contact.opted_out and decision.consent is not ConsentKeyword.OPT_IN:
            return latest, None
        needs_notice = (
            decision.consent is ConsentKeyword.OPT_IN
            or latest is None
            or latest.action != ConsentAction.GRANTED
            or latest.notice_version < org.privacy_notice_version
        )
        if not needs_notice or (not decision.show_notice and latest is not None):
            return latest, None
        if decision.consent is ConsentKeyword.OPT_IN:
            data.update_contact(contact, opted_out=False)
            method = "opt-in keyword; privacy notice v{v} sent with the confirmation"
        elif latest is None:
            method = "first message; privacy notice v{v} sent with the first reply"
        else:
            method = "returning customer; privacy notice v{v} sent with the reply"
        record = data.add_consent(
            contact_id=contact.id,
            action=ConsentAction.GRANTED,
            purpose=consent_policy.SUPPORT_PURPOSE,
            channel=contact.channel,
            notice_version=org.privacy_notice_version,
            method=method.format(v=org.privacy_notice_version),
            now=now,
            retain_until=keep_until,
        )
        notice = consent_policy.privacy_notice(
            org_name=org.name,
            notice_text=org.privacy_notice_text,
            policy_url=org.privacy_policy_url,
        )
        return record, notice

    def _conversation_for(
        self,
        data: OrgData,
        contact: Contact,
        current: Conversation | None,
        inbound: InboundMessage,
        now: datetime,
        keep_until: datetime,
    ) -> Conversation:
        assert contact.id is not None
        fresh = current is not None and (
            current.status == ConversationStatus.HANDOFF
            or now - current.last_message_at < self._conversation_idle
        )
        if current is not None and fresh:
            data.update_conversation(
                current, last_message_at=now, retain_until=max(current.retain_until, keep_until)
            )
            return current
        return data.add_conversation(
            contact_id=contact.id,
            channel=inbound.channel,
            now=now,
            retain_until=keep_until,
            legal_hold=contact.legal_hold,
        )


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


def _source_dict(source: Source) -> dict[str, object]:
    return {
        "entry_id": source.entry_id,
        "external_id": source.external_id,
        "question": source.question,
        "score": source.score,
    }


def _outbound_from_row(row: Message) -> OutboundMessage:
    sources = tuple(
        Source(int(s["entry_id"]), str(s["external_id"]), str(s["question"]), float(s["score"]))
        for s in row.sources
    )
    return OutboundMessage(row.body, ReplyKind(row.kind), sources, row.handoff, row.id)

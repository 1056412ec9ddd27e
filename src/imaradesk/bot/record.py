"""Stage 5 of a turn: everything it leaves behind, in one write transaction.

The contact (new or refreshed), the consent record the turn calls for, the conversation, the
inbound message, the replies with their outcome codes, the handoff and the rating, and the
day's anonymous counts. The unique provider message id makes the database the last word on
duplicates: a delivery another process stored first raises ``DuplicateRecord`` and nothing of
this turn is kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from imaradesk.bot.compose import Composition
from imaradesk.bot.decision import Decision
from imaradesk.bot.handoff_router import HandoffPlan
from imaradesk.bot.observe import Observation
from imaradesk.channels.messages import InboundMessage, OutboundMessage, ReplyKind, Source, Turn
from imaradesk.policies import consent as consent_policy
from imaradesk.policies.consent import ConsentKeyword
from imaradesk.policies.retention import DELIVERY_KEY_LIFETIME, retain_until
from imaradesk.runtime.clock import Clock
from imaradesk.storage.db import Database
from imaradesk.storage.models import (
    ConsentAction,
    ConsentRecord,
    Contact,
    Conversation,
    ConversationStatus,
    LawfulBasis,
    Message,
    Organization,
)
from imaradesk.storage.turn_repository import HandoffRoute, TurnData


@dataclass(frozen=True)
class Recorded:
    turn: Turn
    contact_id: int


class TurnRecorder:
    def __init__(self, *, database: Database, clock: Clock, conversation_idle: timedelta) -> None:
        self._db = database
        self._clock = clock
        self._conversation_idle = conversation_idle

    def record(
        self,
        org: Organization,
        inbound: InboundMessage,
        observation: Observation,
        decision: Decision,
        composition: Composition,
        plan: HandoffPlan | None,
        *,
        language: str = "en",
    ) -> Recorded:
        """Store the turn; ``language`` is its replies' (the privacy notice is written in it).

        Raises:
            DuplicateRecord: another process stored this delivery (or this new contact) first.
        """
        assert org.id is not None
        now = self._clock.now()
        keep_until = retain_until(now, org.retention_days)
        with self._db.write() as session:
            data = TurnData(session, org.id)
            contact = self._contact(data, org, inbound, observation, now, keep_until)
            assert contact.id is not None
            if decision.language_choice is not None:
                # The customer asked for it: kept as their preferred language.
                data.correct_contact(
                    contact, field="preferred_language", value=decision.language_choice
                )
            record, notice = self._record_consent(
                data, org, contact, observation, decision, inbound, now, keep_until, language
            )
            conversation = self._conversation_for(
                data, contact, observation, inbound, now, keep_until
            )
            assert conversation.id is not None
            # New rows join any legal hold already covering their conversation.
            held = bool(org.legal_hold or contact.legal_hold or conversation.legal_hold)
            granted = record is not None and record.action == ConsentAction.GRANTED
            basis = LawfulBasis.CONSENT if granted else LawfulBasis.LEGITIMATE_INTERESTS
            inbound_row = data.add_inbound(
                conversation_id=conversation.id,
                contact_id=contact.id,
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
                delivery_key=(
                    data.delivery_key(
                        inbound.channel, inbound.sender_id, inbound.provider_message_id
                    ),
                    inbound.received_at + DELIVERY_KEY_LIFETIME,
                ),
            )
            replies = list(composition.replies)
            if notice is not None:
                replies.insert(0, OutboundMessage(notice, ReplyKind.PRIVACY_NOTICE))
            rows = self._add_replies(data, inbound_row, replies, decision, basis, now)
            data.flush()  # one round trip for all the replies; their ids are needed below
            self._hand_off(data, org, conversation, decision, plan, now, held)
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
        stored = tuple(_stored(reply, row) for reply, row in zip(replies, rows, strict=True))
        return Recorded(Turn(replies=stored, inbound_message_id=inbound_row.id), contact.id)

    @staticmethod
    def _add_replies(
        data: TurnData,
        inbound: Message,
        replies: list[OutboundMessage],
        decision: Decision,
        basis: LawfulBasis,
        now: datetime,
    ) -> list[Message]:
        # Every reply of a turn that hands off carries the reason, so reports need no join.
        reason = decision.handoff_reason.value if decision.handoff_reason else None
        return [
            data.add_bot_reply(
                inbound=inbound,
                position=position,
                kind=reply.kind.value,
                body=reply.text,
                outcome=reply.outcome_code.value,
                handoff_reason=reason,
                sources=[_source_dict(s) for s in reply.sources],
                options=[{"id": o.id, "title": o.title} for o in reply.options],
                handoff=reply.handoff,
                lawful_basis=basis,
                created_at=now,
            )
            for position, reply in enumerate(replies)
        ]

    def correct_last_reply(self, org: Organization, turn: Turn, text: str) -> Turn:
        """Replace the turn's last reply, stored and returned, so that a retry replays the truth."""
        assert org.id is not None
        last = turn.replies[-1]
        if last.message_id is not None:
            with self._db.write() as session:
                TurnData(session, org.id).correct_reply(last.message_id, text)
        corrected = OutboundMessage(text, last.kind, (), last.handoff, last.message_id)
        return Turn(turn.replies[:-1] + (corrected,), turn.inbound_message_id, turn.duplicate)

    def _contact(
        self,
        data: TurnData,
        org: Organization,
        inbound: InboundMessage,
        observation: Observation,
        now: datetime,
        keep_until: datetime,
    ) -> Contact:
        contact = observation.contact
        if contact is None:
            return data.add_contact(
                channel=inbound.channel,
                address=inbound.sender_id,
                display_name=inbound.profile_name,
                now=now,
                retain_until=keep_until,
                legal_hold=org.legal_hold,
                alias=inbound.sender_alias,
            )
        data.refresh_contact(contact, retain_until=keep_until, display_name=inbound.profile_name)
        return contact

    def _record_consent(
        self,
        data: TurnData,
        org: Organization,
        contact: Contact,
        observation: Observation,
        decision: Decision,
        inbound: InboundMessage,
        now: datetime,
        keep_until: datetime,
        language: str,
    ) -> tuple[ConsentRecord | None, str | None]:
        """Append the consent record this turn calls for; return the one in force and a notice."""
        assert contact.id is not None
        latest = observation.latest_consent
        if decision.consent is ConsentKeyword.OPT_OUT:
            data.set_opted_out(contact, True)
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
            data.set_opted_out(contact, False)
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
            language=language,
        )
        return record, notice

    def _conversation_for(
        self,
        data: TurnData,
        contact: Contact,
        observation: Observation,
        inbound: InboundMessage,
        now: datetime,
        keep_until: datetime,
    ) -> Conversation:
        assert contact.id is not None
        current = observation.conversation
        fresh = current is not None and (
            current.status == ConversationStatus.HANDOFF
            or now - current.last_message_at < self._conversation_idle
        )
        if current is not None and fresh:
            data.touch_conversation(current, now=now, retain_until=keep_until)
            return current
        return data.add_conversation(
            contact_id=contact.id,
            channel=inbound.channel,
            now=now,
            retain_until=keep_until,
            legal_hold=contact.legal_hold,
        )

    @staticmethod
    def _hand_off(
        data: TurnData,
        org: Organization,
        conversation: Conversation,
        decision: Decision,
        plan: HandoffPlan | None,
        now: datetime,
        held: bool,
    ) -> None:
        if decision.handoff_reason is None:
            return
        assert conversation.id is not None
        already = data.open_handoff(conversation.id)
        if already is not None:
            # One open handoff per conversation: a new reason is added to it.
            data.note_on_handoff(
                already, f"also: {decision.handoff_reason.value.replace('_', ' ')}"
            )
            return
        data.add_routed_handoff(
            conversation=conversation,
            reason=decision.handoff_reason.value,
            route=_route(plan) if plan is not None else None,
            now=now,
            retain_until=retain_until(now, org.handoff_retention_days),
            legal_hold=held,
        )


def _route(plan: HandoffPlan) -> HandoffRoute:
    c = plan.classification
    return HandoffRoute(
        topic=c.topic,
        language=c.language,
        sentiment=c.sentiment,
        urgency=c.urgency,
        priority=plan.priority,
        team_id=plan.team_id,
        assigned_agent_id=plan.agent_id,
        routing_reasons=plan.reasons,
        summary=plan.summary,
        suggested_entry_ids=plan.suggested_entry_ids,
    )


def _stored(reply: OutboundMessage, row: Message) -> OutboundMessage:
    return OutboundMessage(
        reply.text, reply.kind, reply.sources, reply.handoff, row.id, reply.outcome, reply.options
    )


def _source_dict(source: Source) -> dict[str, object]:
    return {
        "entry_id": source.entry_id,
        "external_id": source.external_id,
        "question": source.question,
        "score": source.score,
    }

"""The dialogue manager: handles one inbound message, once, and remembers everything about it.

A turn runs six stages, under the conversation's lock:

1. observe   what we know of the sender; a delivery handled before replays its stored replies
2. decide    the organization's ordered rules; the first that applies decides
3. compose   the words of the answer (the organization's AI, where it writes answers)
4. route     where a handoff goes
5. record    everything, in one write transaction
6. effects   the privacy desk's work and the conversation state

Provider calls (Rasa, an LLM, routing's model) all happen before the write transaction opens.
"""

from __future__ import annotations

import hashlib
import logging

from imaradesk.bot.compose import AnswerWriter, Composition
from imaradesk.bot.decide import Decider
from imaradesk.bot.decision import Decision
from imaradesk.bot.effects import TurnEffects
from imaradesk.bot.handoff_router import HandoffPlan
from imaradesk.bot.language import after_decision, state_changes
from imaradesk.bot.observe import Observation, Observer
from imaradesk.bot.record import Recorded, TurnRecorder
from imaradesk.bot.route import HandoffRouting
from imaradesk.channels.messages import InboundMessage, Turn
from imaradesk.pii.recent_names import recent_names
from imaradesk.runtime.metrics import TURNS
from imaradesk.storage.errors import DuplicateRecord
from imaradesk.storage.locks import LockManager
from imaradesk.storage.models import Organization

log = logging.getLogger(__name__)


class DialogueError(Exception):
    """Base of dialogue errors."""


class WrongOrganization(DialogueError):
    """The message names another organization than the one handling it."""


def conversation_lock_name(org_id: int, channel: str, sender_id: str) -> str:
    """One lock per conversation. Lock names show up in Redis and in timeout errors, so they
    carry a digest of the sender, not a phone number."""
    sender = hashlib.blake2b(sender_id.encode(), digest_size=16).hexdigest()
    return f"conversation:{org_id}:{channel}:{sender}"


class DialogueManager:
    def __init__(
        self,
        *,
        locks: LockManager,
        observer: Observer,
        decider: Decider,
        writer: AnswerWriter,
        routing: HandoffRouting,
        recorder: TurnRecorder,
        effects: TurnEffects,
    ) -> None:
        self._locks = locks
        self._observer = observer
        self._decider = decider
        self._writer = writer
        self._routing = routing
        self._recorder = recorder
        self._effects = effects

    def writes_slowly(self, org: Organization) -> bool:
        """Whether a model may write this organization's answers, so a turn can take seconds."""
        return self._writer.writes_for(org)

    def handle(self, org: Organization, inbound: InboundMessage) -> Turn:
        """Handle one inbound message of ``org``; a repeat of a handled one replays its replies."""
        if inbound.org_slug != org.slug or org.id is None:
            raise WrongOrganization(f"message for {inbound.org_slug!r} handed to {org.slug!r}")
        # Logs redact the names that channels tell us, wherever they appear.
        recent_names.add(inbound.profile_name)
        with self._locks.hold(conversation_lock_name(org.id, inbound.channel, inbound.sender_id)):
            turn = self._turn(org, inbound)
        outcome = "duplicate" if turn.duplicate else "none"
        if turn.replies and not turn.duplicate:
            outcome = turn.replies[-1].outcome_code.value
        TURNS.labels(channel=inbound.channel, outcome=outcome).inc()
        return turn

    def _turn(self, org: Organization, inbound: InboundMessage) -> Turn:
        observation = self._observer.observe(org, inbound)
        if isinstance(observation, Turn):
            return observation
        ctx = self._decider.context(org, inbound, observation)
        decision = self._decider.decide(org, ctx)
        language = after_decision(ctx.language, decision)
        composition = self._writer.compose(org, observation.contact, ctx, decision)
        composition = Composition(
            composition.replies, {**composition.state, **state_changes(language, decision)}
        )
        plan = self._routing.route(org, observation, ctx, decision)
        recorded = self._record(
            org, inbound, observation, decision, composition, plan, language.code
        )
        if isinstance(recorded, Turn):
            return recorded
        turn = self._effects.apply(org, recorded, ctx, decision, composition)
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

    def _record(
        self,
        org: Organization,
        inbound: InboundMessage,
        observation: Observation,
        decision: Decision,
        composition: Composition,
        plan: HandoffPlan | None,
        language: str,
    ) -> Recorded | Turn:
        """Store the turn, or the stored replies when another process stored it first.

        Processes share no lock on the embedded default, so two deliveries of one message can
        both reach this point. The decision is never made twice: a duplicate replays what the
        other stored, and a clash over a new contact stores this decision against the contact
        the other created.
        """
        try:
            return self._recorder.record(
                org, inbound, observation, decision, composition, plan, language=language
            )
        except DuplicateRecord:
            replay = self._observer.replay(org, inbound)
            if replay is not None:
                return replay
            fresh = self._observer.observe(org, inbound)
            if isinstance(fresh, Turn):
                return fresh
            return self._recorder.record(
                org, inbound, fresh, decision, composition, plan, language=language
            )

"""Stage 6 of a turn, after it is stored: the privacy desk's work and the conversation state.

A data-protection effect the rules named is carried out by the privacy desk; the state changes
of the decision, the composition and the desk are saved together. Nothing here runs for a
duplicate delivery, and an erased contact has no state left to save.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from imaradesk.bot.compose import Composition
from imaradesk.bot.context import TurnContext
from imaradesk.bot.decision import Decision
from imaradesk.bot.record import Recorded, TurnRecorder
from imaradesk.bot.state import PENDING_ERASURE, expire_one_message_keys
from imaradesk.channels.messages import Turn
from imaradesk.compliance.effects import ErasureNotDone, PrivacyEffects
from imaradesk.runtime.i18n import N_, translate
from imaradesk.storage.conversation_state import ConversationStateStore
from imaradesk.storage.models import Organization

log = logging.getLogger(__name__)

ERASURE_FAILED = N_(
    "Sorry, we could not finish erasing your data just now. Nothing is lost: your request is "
    "recorded and a member of our team will complete it and confirm here."
)


class TurnEffects:
    def __init__(
        self, *, privacy: PrivacyEffects, state: ConversationStateStore, recorder: TurnRecorder
    ) -> None:
        self._privacy = privacy
        self._state = state
        self._recorder = recorder

    def apply(
        self,
        org: Organization,
        recorded: Recorded,
        ctx: TurnContext,
        decision: Decision,
        composition: Composition,
    ) -> Turn:
        """Carry out the turn's effects; return the turn as the customer gets it."""
        assert org.id is not None
        turn = recorded.turn
        changes = expire_one_message_keys(
            ctx.state, composition.state, rated=decision.rating is not None
        )
        erased = False
        try:
            result = self._privacy.apply(
                org,
                decision.privacy,
                contact_id=recorded.contact_id,
                channel=ctx.inbound.channel,
                text=ctx.inbound.text,
                pending_erasure=ctx.pending_erasure,
            )
            changes.update(result.state)
            erased = result.erased
        except ErasureNotDone:
            failed = translate(ctx.reply_language, ERASURE_FAILED)
            turn = self._recorder.correct_last_reply(org, turn, failed)
            changes[PENDING_ERASURE] = ""
        if erased:
            return replace(turn, erased=True)
        if changes:
            self._state.update(org.id, recorded.contact_id, changes)
        return turn

"""The turn pipeline with every optional collaborator left out: no AI, no routing, no NLU.

The do-nothing implementations are what an organization without those parts runs on; the bot
still answers from its FAQ, hands off to the queue unrouted, and keeps privacy requests working.
"""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from imaradesk.bot.compose import ExtractiveAnswers
from imaradesk.bot.decide import Decider, NoIntentRules
from imaradesk.bot.dialogue import DialogueManager
from imaradesk.bot.effects import TurnEffects
from imaradesk.bot.observe import Observer
from imaradesk.bot.record import TurnRecorder
from imaradesk.bot.route import HandoffRouting, NoHandoffPlanning
from imaradesk.channels.messages import Outcome, ReplyKind
from imaradesk.compliance.effects import PrivacyEffects
from imaradesk.policies.handoff import LowConfidencePolicy
from imaradesk.storage.db import Database
from imaradesk.storage.models import Handoff
from tests.helpers import Chat, seed_org


def _minimal(services) -> DialogueManager:
    database, state = services.database, services.state
    recorder = TurnRecorder(
        database=database, clock=services.clock, conversation_idle=timedelta(hours=24)
    )
    return DialogueManager(
        locks=services.locks,
        observer=Observer(database=database, state=state, privacy=services.privacy),
        decider=Decider(
            knowledge=services.knowledge,
            privacy=services.privacy,
            planner=NoHandoffPlanning(),
            writer=ExtractiveAnswers(),
            intents=NoIntentRules(),
            low_confidence=LowConfidencePolicy(),
        ),
        writer=ExtractiveAnswers(),
        routing=HandoffRouting(database=database, planner=NoHandoffPlanning()),
        recorder=recorder,
        effects=TurnEffects(
            privacy=PrivacyEffects(services.privacy), state=state, recorder=recorder
        ),
    )


def test_without_optional_parts_the_bot_answers_hands_off_and_exports(
    make_services, database: Database
) -> None:
    services = make_services(database)
    seed_org(services, "acme")
    services.dialogue = _minimal(services)
    chat = Chat(services, "acme")
    first = chat.send("How do I check my balance?")
    assert [r.kind for r in first] == [ReplyKind.PRIVACY_NOTICE, ReplyKind.ANSWER]
    assert "*483*1#" in first[1].text
    assert not services.dialogue.writes_slowly(services.organizations.by_slug("acme"))

    [reply] = chat.send("nataka kuongea na mtu")
    assert reply.handoff and reply.outcome_code is Outcome.HANDOFF
    with database.read() as session:
        [handoff] = session.exec(select(Handoff)).all()
    # Unrouted: it waits in the organization's queue with the columns' defaults.
    assert (handoff.reason, handoff.team_id, handoff.assigned_agent_id) == (
        "customer_request",
        None,
        None,
    )
    assert (handoff.urgency, handoff.priority, handoff.routing_reasons) == ("normal", 0, [])

    # A data-protection request is answered even while a person owns the conversation.
    [export] = chat.send("nitumie data yangu")
    assert export.kind is ReplyKind.PRIVACY and "/exports/" in export.text

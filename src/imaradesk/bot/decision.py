"""What the first rule that applies decides, and the contract every rule keeps."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from imaradesk.bot.context import TurnContext
from imaradesk.channels.messages import OutboundMessage
from imaradesk.knowledge_index.knowledge_base import EntryInfo
from imaradesk.policies.consent import ConsentKeyword
from imaradesk.policies.handoff import HandoffReason
from imaradesk.policies.privacy import PrivacyEffect


@dataclass(frozen=True)
class Decision:
    rule: str
    replies: tuple[OutboundMessage, ...] = ()
    consent: ConsentKeyword | None = None
    handoff_reason: HandoffReason | None = None
    ai_processed: bool = False
    # Conversation-state fields to set after the turn is stored ("" deletes a value).
    state: Mapping[str, str] = field(default_factory=dict)
    # The customer's consent is confirmed by this reply, so the notice goes with it.
    show_notice: bool = True
    # A data-protection effect for the privacy desk, applied once the turn is stored.
    privacy: PrivacyEffect | None = None
    # (handoff id, 1-5): the customer's rating of a person's help.
    rating: tuple[int, int] | None = None
    # The entries a generative model may write this answer from (best first), when the
    # organization lets one; the replies above are the extractive answer it falls back to.
    grounding: tuple[EntryInfo, ...] = ()
    # The language the customer asked for in this message ("ongea Kiswahili", a rectification
    # of their preferred language): remembered as their choice; the replies are already in it.
    language_choice: str | None = None


class Rule(Protocol):
    name: str

    def applies(self, ctx: TurnContext) -> bool:
        """Whether this rule decides the turn; pure, and cheap unless earlier rules passed."""
        ...

    def apply(self, ctx: TurnContext) -> Decision:
        """The decision; called only when ``applies`` said yes."""
        ...


def decide(rules: Sequence[Rule], ctx: TurnContext) -> Decision:
    """The decision of the first rule that applies."""
    for rule in rules:
        if rule.applies(ctx):
            return rule.apply(ctx)
    raise LookupError("no rule applied; the last rule must always apply")

"""message outcome codes, backfilled for stored bot replies

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 02:40:00

Reports and insights read what a bot reply did from ``message.outcome`` (and why its turn
handed off from ``message.handoff_reason``), never from the reply's words. Replies stored before
this revision get their codes here, from their kind and, where the kind alone is ambiguous,
their text: this migration is the one place that reads reply text. The texts below are the
bot's replies as they stood at this revision (copied on purpose: later wording changes must not
change how old rows are read). Bodies are sealed at rest, so the keystore is needed; a value
that does not open (a shredded organization) is classified by its kind alone.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from imaradesk.storage.encryption import EncryptionError, Keystore, is_sealed

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

CLARIFY_REPLY = "Sorry, I'm not sure I understood. Could you rephrase your question?"
OFFERED_CHOICES_PREFIX = "Sorry, I'm not sure I understood. Did you mean one of these?"
CSAT_THANKS = "Thank you for your rating! Is there anything else I can help with?"
HANDOFF_REASON_OF_TEXT = {
    "I'm connecting you with a member of our team. A person will reply here as soon as "
    "possible.": "customer_request",
    "Ninakuunganisha na mtu wa timu yetu. Atakujibu hapa haraka iwezekanavyo.": "customer_request",
    "I'm sorry I couldn't answer that. I've passed your question to our team, and a person "
    "will reply here as soon as possible.": "low_confidence",
    "I'm sorry this has been so frustrating. I'm bringing in a member of our team, who will "
    "reply here as soon as possible.": "frustration",
    "This needs one of our team. I've passed your message on, and a person will reply here as "
    "soon as possible.": "always_human_topic",
    "Because you asked us not to process your messages with AI, a member of our team will "
    "answer you here.": "restricted_processing",
    "Thanks for telling us. I've passed your correction to our team, who will update your "
    "details and confirm here.": "privacy_request",
    "We can't erase your data right now: a legal obligation requires us to keep it for the "
    "moment. Your request is recorded and a member of our team will contact you.": "privacy_request",
}
OUTCOME_OF_KIND = {
    "answer": "answered",
    "small_talk": "small_talk",
    "privacy_notice": "privacy_notice",
    "clarify": "clarify",
    "handoff": "handoff",
    "opt_out_confirmation": "opted_out",
    "opt_in_confirmation": "opted_in",
    "unsupported_media": "unsupported_media",
    "privacy": "privacy",
}
BATCH = 500


def classify(kind: str, text: str | None) -> tuple[str | None, str | None]:
    """The outcome code and handoff reason of a stored bot reply (None where unknown)."""
    outcome = OUTCOME_OF_KIND.get(kind)
    if text is None:
        return outcome, None
    if kind == "clarify" and text != CLARIFY_REPLY:
        # A clarification is one of three: "rephrase", "did you mean", or a generated
        # answer's "the articles don't say: shall I connect you to a person?".
        outcome = (
            "offered_choices" if text.startswith(OFFERED_CHOICES_PREFIX) else "offered_handoff"
        )
    elif kind == "small_talk" and text == CSAT_THANKS:
        outcome = "rated"
    return outcome, HANDOFF_REASON_OF_TEXT.get(text)


def upgrade() -> None:
    with op.batch_alter_table("message", schema=None, recreate="never") as batch_op:
        batch_op.add_column(sa.Column("outcome", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("handoff_reason", sa.String(length=32), nullable=True))
        batch_op.create_index(batch_op.f("ix_message_outcome"), ["outcome"], unique=False)
    backfill(op.get_bind(), op.get_context().config.attributes.get("keystore"))


def backfill(connection: sa.Connection, keystore: Keystore | None) -> int:
    """Give every stored bot reply its outcome code; the count of replies classified."""
    message = sa.table(
        "message",
        sa.column("id", sa.Integer),
        sa.column("org_id", sa.Integer),
        sa.column("reply_to_id", sa.Integer),
        sa.column("kind", sa.String),
        sa.column("body", sa.Text),
        sa.column("outcome", sa.String),
        sa.column("handoff_reason", sa.String),
    )
    done, last_id = 0, 0
    while True:
        rows = connection.execute(
            sa.select(
                message.c.id,
                message.c.org_id,
                message.c.reply_to_id,
                message.c.kind,
                message.c.body,
            )
            .where(message.c.reply_to_id.is_not(None), message.c.id > last_id)
            .order_by(message.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return done
        turns: dict[int, list[tuple[int, str | None, str | None]]] = {}
        for row in rows:
            outcome, reason = classify(row.kind, _open(keystore, row.org_id, row.body))
            turns.setdefault(row.reply_to_id, []).append((row.id, outcome, reason))
        for replies in turns.values():
            # Every reply of a turn that handed off carries the reason (the privacy notice too).
            reason = next((r for _, _, r in replies if r is not None), None)
            for message_id, outcome, _ in replies:
                connection.execute(
                    sa.update(message)
                    .where(message.c.id == message_id)
                    .values(outcome=outcome, handoff_reason=reason)
                )
                done += 1
        last_id = rows[-1].id


def _open(keystore: Keystore | None, org_id: int, body: str | None) -> str | None:
    if body is None or not is_sealed(body):
        return body
    if keystore is None:
        return None
    try:
        return keystore.open_text(body, org_id, "message.body")
    except (EncryptionError, ValueError):
        return None


def downgrade() -> None:
    # SQLite drops columns in place (3.35+): rebuilding the table would trip the foreign keys
    # that point at the messages.
    with op.batch_alter_table("message", schema=None, recreate="never") as batch_op:
        batch_op.drop_index(batch_op.f("ix_message_outcome"))
        batch_op.drop_column("handoff_reason")
        batch_op.drop_column("outcome")

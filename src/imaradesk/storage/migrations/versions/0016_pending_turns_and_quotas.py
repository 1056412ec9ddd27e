"""accepted messages are kept until answered; organizations have quotas of their own

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 14:40:00

Existing organizations keep the service's default quotas (the columns are empty).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from imaradesk.storage.models import UTCDateTime

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

_QUOTAS = ("quota_messages_per_minute", "quota_visitors_per_hour", "quota_storage_mb")


def upgrade() -> None:
    with op.batch_alter_table("organization", recreate="never") as batch:
        for name in _QUOTAS:
            batch.add_column(sa.Column(name, sa.Integer(), nullable=True))
    op.create_table(
        "pendingturn",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("sender_hash", sa.String(length=64), nullable=False),
        sa.Column("delivery_hash", sa.String(length=64), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("received_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("not_before", UTCDateTime(timezone=True), nullable=False),
        sa.Column("queued_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organization.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("org_id", "delivery_hash", name="uq_pending_delivery"),
    )
    op.create_index("ix_pendingturn_org_id", "pendingturn", ["org_id"])
    op.create_index("ix_pendingturn_sender_hash", "pendingturn", ["sender_hash"])
    op.create_index("ix_pendingturn_not_before", "pendingturn", ["not_before"])


def downgrade() -> None:
    op.drop_table("pendingturn")
    with op.batch_alter_table("organization", recreate="never") as batch:
        for name in _QUOTAS:
            batch.drop_column(name)

"""organizations excluded from training can opt in to the per-organization tuning

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 12:45:00

Existing organizations have not opted in, which is what the default says: one excluded from
training keeps an untuned answer model until its admin turns tuning on.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("organization", recreate="never") as batch:
        batch.add_column(
            sa.Column("tuning_opt_in", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    # SQLite drops columns in place (3.35+): rebuilding the table would trip the foreign keys
    # that point at the organization.
    with op.batch_alter_table("organization", recreate="never") as batch:
        batch.drop_column("tuning_opt_in")

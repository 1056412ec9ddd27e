"""account disabling and session versions

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 05:32:34.972070
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel  # noqa: F401 - autogenerate writes sqlmodel types
from alembic import op

import imaradesk.storage.models

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("agentaccount", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "disabled_at", imaradesk.storage.models.UTCDateTime(timezone=True), nullable=True
            )
        )
        batch_op.add_column(
            sa.Column("session_version", sa.Integer(), nullable=False, server_default="1")
        )


def downgrade() -> None:
    with op.batch_alter_table("agentaccount", schema=None) as batch_op:
        batch_op.drop_column("session_version")
        batch_op.drop_column("disabled_at")

"""bot replies keep the choices they offered, for channels that render them as buttons

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 19:05:00

Existing replies offered their choices as numbered text only: an empty list.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("message", recreate="never") as batch:
        batch.add_column(
            sa.Column("options", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )


def downgrade() -> None:
    with op.batch_alter_table("message", recreate="never") as batch:
        batch.drop_column("options")

"""templates say whose they are: Twilio's Content SIDs or Meta's synced templates

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 09:30:00

Every existing template was added as a Twilio Content SID.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messagetemplate", recreate="never") as batch:
        batch.add_column(
            sa.Column(
                "provider", sa.String(length=16), nullable=False, server_default=sa.text("'twilio'")
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("messagetemplate", recreate="never") as batch:
        batch.drop_column("provider")

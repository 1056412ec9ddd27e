"""organizations can sign the identities of their signed-in customers for the web chat

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 18:00:00

Empty for existing organizations: their visitors are anonymous until an admin sets a secret.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("organization", recreate="never") as batch:
        batch.add_column(sa.Column("webchat_identity_secret", sa.Text(), nullable=True))


def downgrade() -> None:
    # SQLite drops columns in place (3.35+): rebuilding the table would trip the foreign keys
    # that point at the organization.
    with op.batch_alter_table("organization", recreate="never") as batch:
        batch.drop_column("webchat_identity_secret")

"""organizations can connect WhatsApp through Meta's Cloud API; messages keep what they cost

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 18:30:00

Empty for existing organizations: the channel is off until an admin sets the number and tokens.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_SECRETS = ("meta_app_secret", "meta_access_token", "meta_verify_token")


def upgrade() -> None:
    with op.batch_alter_table("organization", recreate="never") as batch:
        batch.add_column(sa.Column("meta_phone_number_id", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("meta_waba_id", sa.String(length=64), nullable=True))
        for name in _SECRETS:
            batch.add_column(sa.Column(name, sa.Text(), nullable=True))
    with op.batch_alter_table("message", recreate="never") as batch:
        batch.add_column(sa.Column("pricing_category", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("message", recreate="never") as batch:
        batch.drop_column("pricing_category")
    # SQLite drops columns in place (3.35+): rebuilding the table would trip the foreign keys
    # that point at the organization.
    with op.batch_alter_table("organization", recreate="never") as batch:
        for name in ("meta_phone_number_id", "meta_waba_id", *_SECRETS):
            batch.drop_column(name)

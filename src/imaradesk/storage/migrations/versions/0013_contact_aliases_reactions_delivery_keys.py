"""contacts keep a second identifier, messages the customer's reaction, and deliveries a
dedup key that outlives the message

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 09:10:00

Existing contacts have no alias and existing messages no reaction; deliveries received before
this revision are recognised by their stored messages, as they were.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from imaradesk.storage.models import UTCDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("contact", recreate="never") as batch:
        batch.add_column(sa.Column("alias", sa.Text(), nullable=True))
        batch.add_column(sa.Column("alias_hash", sa.String(length=64), nullable=True))
    op.create_index("ix_contact_alias_hash", "contact", ["alias_hash"])
    with op.batch_alter_table("message", recreate="never") as batch:
        batch.add_column(sa.Column("reaction", sa.String(length=32), nullable=True))
    op.create_table(
        "deliverykey",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organization.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("org_id", "key_hash", name="uq_delivery_key"),
    )
    op.create_index("ix_deliverykey_org_id", "deliverykey", ["org_id"])
    op.create_index("ix_deliverykey_expires_at", "deliverykey", ["expires_at"])


def downgrade() -> None:
    op.drop_table("deliverykey")
    with op.batch_alter_table("message", recreate="never") as batch:
        batch.drop_column("reaction")
    op.drop_index("ix_contact_alias_hash", table_name="contact")
    with op.batch_alter_table("contact", recreate="never") as batch:
        batch.drop_column("alias_hash")
        batch.drop_column("alias")

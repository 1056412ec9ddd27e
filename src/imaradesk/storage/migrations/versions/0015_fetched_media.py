"""organizations may keep their customers' media; the files are sealed rows that go with
their message

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 09:40:00

Off for every existing organization: media stays metadata until an admin turns it on.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from imaradesk.storage.models import UTCDateTime

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("organization", recreate="never") as batch:
        batch.add_column(
            sa.Column("fetch_media", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_table(
        "mediafile",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("fetched_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organization.id"]),
        sa.ForeignKeyConstraint(["message_id"], ["message.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_mediafile_org_id", "mediafile", ["org_id"])
    op.create_index("ix_mediafile_message_id", "mediafile", ["message_id"])


def downgrade() -> None:
    op.drop_table("mediafile")
    with op.batch_alter_table("organization", recreate="never") as batch:
        batch.drop_column("fetch_media")

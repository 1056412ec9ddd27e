"""knowledge documents, api tokens, ai settings and usage

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 05:46:38.326687
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import imaradesk.storage.models

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "aiusage",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("provider", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("model", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("purpose", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("input_tokens", sa.Integer(), nullable=False),
        sa.Column("output_tokens", sa.Integer(), nullable=False),
        sa.Column("outcome", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.Column(
            "created_at", imaradesk.storage.models.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organization.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("aiusage", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_aiusage_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_aiusage_org_id"), ["org_id"], unique=False)

    op.create_table(
        "apitoken",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("prefix", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column(
            "created_at", imaradesk.storage.models.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "last_used_at", imaradesk.storage.models.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("revoked_at", imaradesk.storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organization.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("apitoken", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_apitoken_org_id"), ["org_id"], unique=False)

    op.create_table(
        "knowledgedocument",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("media_type", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column(
            "status",
            sa.Enum("QUEUED", "PROCESSING", "READY", "FAILED", name="documentstatus"),
            nullable=False,
        ),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("uploaded_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column(
            "created_at", imaradesk.storage.models.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "updated_at", imaradesk.storage.models.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organization.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("org_id", "name", name="uq_document_name"),
    )
    with op.batch_alter_table("knowledgedocument", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_knowledgedocument_org_id"), ["org_id"], unique=False)

    op.create_table(
        "ingestionjob",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("QUEUED", "PROCESSING", "READY", "FAILED", name="documentstatus"),
            nullable=False,
        ),
        sa.Column("stage", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("created", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("removed", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column(
            "created_at", imaradesk.storage.models.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("started_at", imaradesk.storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "finished_at", imaradesk.storage.models.UTCDateTime(timezone=True), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["knowledgedocument.id"],
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organization.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("ingestionjob", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ingestionjob_document_id"), ["document_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_ingestionjob_org_id"), ["org_id"], unique=False)

    with op.batch_alter_table("knowledgeentry", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "kind",
                sqlmodel.sql.sqltypes.AutoString(length=16),
                nullable=False,
                server_default="faq",
            )
        )
        batch_op.add_column(
            sa.Column("location", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True)
        )
        batch_op.add_column(sa.Column("position", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(
            sa.Column("enabled", sa.Boolean(), nullable=False, server_default=sa.true())
        )

    with op.batch_alter_table("organization", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("ai_provider", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True)
        )
        batch_op.add_column(
            sa.Column("ai_model", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True)
        )
        batch_op.add_column(sa.Column("ai_api_key", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("ai_base_url", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True)
        )
        batch_op.add_column(
            sa.Column("generative_answers", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column("rasa_url", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("organization", schema=None) as batch_op:
        batch_op.drop_column("rasa_url")
        batch_op.drop_column("generative_answers")
        batch_op.drop_column("ai_base_url")
        batch_op.drop_column("ai_api_key")
        batch_op.drop_column("ai_model")
        batch_op.drop_column("ai_provider")

    with op.batch_alter_table("knowledgeentry", schema=None) as batch_op:
        batch_op.drop_column("enabled")
        batch_op.drop_column("position")
        batch_op.drop_column("location")
        batch_op.drop_column("kind")

    with op.batch_alter_table("ingestionjob", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ingestionjob_org_id"))
        batch_op.drop_index(batch_op.f("ix_ingestionjob_document_id"))

    op.drop_table("ingestionjob")
    with op.batch_alter_table("knowledgedocument", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_knowledgedocument_org_id"))

    op.drop_table("knowledgedocument")
    sa.Enum(name="documentstatus").drop(op.get_bind(), checkfirst=True)
    with op.batch_alter_table("apitoken", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_apitoken_org_id"))

    op.drop_table("apitoken")
    with op.batch_alter_table("aiusage", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_aiusage_org_id"))
        batch_op.drop_index(batch_op.f("ix_aiusage_created_at"))

    op.drop_table("aiusage")

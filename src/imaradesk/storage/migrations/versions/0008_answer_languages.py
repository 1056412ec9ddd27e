"""knowledge entries carry the language of their answer and answers in other languages

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 07:40:00

Existing entries are English answers with no translations, which is what the defaults say.
``answer_translations`` and ``question_translations`` are sealed text (a JSON object once
opened), like ``answer`` and ``question``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("knowledgeentry", recreate="never") as batch:
        batch.add_column(
            sa.Column("language", sa.String(length=8), nullable=False, server_default="en")
        )
        batch.add_column(sa.Column("answer_translations", sa.Text(), nullable=True))
        batch.add_column(sa.Column("question_translations", sa.Text(), nullable=True))


def downgrade() -> None:
    # SQLite drops columns in place (3.35+): rebuilding the table would trip the foreign keys
    # that point at the entries.
    with op.batch_alter_table("knowledgeentry", recreate="never") as batch:
        batch.drop_column("question_translations")
        batch.drop_column("answer_translations")
        batch.drop_column("language")

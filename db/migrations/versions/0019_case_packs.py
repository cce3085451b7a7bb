"""case packs: each HR or police pack as it was produced, its HTML and PDF stored write-once

Packs produced before this revision were never stored, so they have no row: they cannot be
shown as they were sent, and the pack's page says so.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-08
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_packs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("html_name", sa.String(length=80), nullable=False),
        sa.Column("html_sha256", sa.String(length=64), nullable=False),
        sa.Column("html_size", sa.BigInteger(), nullable=False),
        sa.Column("pdf_name", sa.String(length=80), nullable=False),
        sa.Column("pdf_sha256", sa.String(length=64), nullable=False),
        sa.Column("pdf_size", sa.BigInteger(), nullable=False),
        sa.Column("produced_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_packs_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_packs")),
        sa.UniqueConstraint("html_name", name=op.f("uq_case_packs_html_name")),
        sa.UniqueConstraint("pdf_name", name=op.f("uq_case_packs_pdf_name")),
    )
    op.create_index(op.f("ix_case_packs_case_id"), "case_packs", ["case_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_case_packs_case_id"), table_name="case_packs")
    op.drop_table("case_packs")

"""decision codes: a second, emailed code that confirms answers reaching outside the school

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "decision_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("approval_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["approval_id"], ["approvals.id"], name=op.f("fk_decision_codes_approval_id_approvals")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decision_codes")),
    )
    with op.batch_alter_table("decision_codes") as batch_op:
        batch_op.create_index(
            batch_op.f("ix_decision_codes_approval_id"), ["approval_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("decision_codes") as batch_op:
        batch_op.drop_index(batch_op.f("ix_decision_codes_approval_id"))
    op.drop_table("decision_codes")

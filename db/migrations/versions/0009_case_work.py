"""case work: notes, withdrawn cases, requests superseded when a case is withdrawn or a step redone

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

LIVE = sa.text("superseded_at IS NULL")


def upgrade() -> None:
    op.create_table(
        "case_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_case_notes_case_id_cases")),
        sa.ForeignKeyConstraint(
            ["author_id"], ["people.id"], name=op.f("fk_case_notes_author_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_notes")),
    )
    with op.batch_alter_table("case_notes") as batch_op:
        batch_op.create_index(batch_op.f("ix_case_notes_case_id"), ["case_id"], unique=False)
    with op.batch_alter_table("approvals") as batch_op:
        batch_op.add_column(sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.drop_constraint("uq_approvals_case_step", type_="unique")
        batch_op.create_index("ix_approvals_approver_waiting", ["approver_id", "decided_at"])
    op.create_index(
        "uq_approvals_live_step",
        "approvals",
        ["case_id", "step_key"],
        unique=True,
        sqlite_where=LIVE,
        postgresql_where=LIVE,
    )


def downgrade() -> None:
    op.drop_index("uq_approvals_live_step", table_name="approvals")
    with op.batch_alter_table("approvals") as batch_op:
        batch_op.drop_index("ix_approvals_approver_waiting")
        batch_op.create_unique_constraint("uq_approvals_case_step", ["case_id", "step_key"])
        batch_op.drop_column("superseded_at")
    with op.batch_alter_table("case_notes") as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_notes_case_id"))
    op.drop_table("case_notes")

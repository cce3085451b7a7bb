"""requests passed on: why and by whom, the last holder's link, the end of an escalation;
each school's escalation chains

Revision ID: 0011
Revises: 0008
Create Date: 2026-12-12
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("approvals") as batch:
        batch.add_column(sa.Column("handed_over", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("handed_over_by_id", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column("handed_over_reason", sa.Text(), nullable=False, server_default="")
        )
        batch.add_column(sa.Column("handed_over_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("passed_token_hash", sa.String(length=64), nullable=True))
        batch.add_column(
            sa.Column("escalation_ended_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch.create_foreign_key(
            "fk_approvals_handed_over_by_id_people", "people", ["handed_over_by_id"], ["id"]
        )
        batch.create_index("ix_approvals_passed_token_hash", ["passed_token_hash"])
    with op.batch_alter_table("schools") as batch:
        batch.add_column(sa.Column("escalation_chains", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("schools") as batch:
        batch.drop_column("escalation_chains")
    with op.batch_alter_table("approvals") as batch:
        batch.drop_index("ix_approvals_passed_token_hash")
        batch.drop_constraint("fk_approvals_handed_over_by_id_people", type_="foreignkey")
        for column in (
            "escalation_ended_at",
            "passed_token_hash",
            "handed_over_at",
            "handed_over_reason",
            "handed_over_by_id",
            "handed_over",
        ):
            batch.drop_column(column)

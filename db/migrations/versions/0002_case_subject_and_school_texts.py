"""case subject, safeguarding flag, HR escalation time, school stock response, outbox priority

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("subject_id", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column("safeguarding", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("hr_escalated_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_foreign_key("fk_cases_subject_id_people", "people", ["subject_id"], ["id"])
    with op.batch_alter_table("schools") as batch:
        batch.add_column(sa.Column("stock_response", sa.Text(), nullable=False, server_default=""))
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("priority", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("priority")
    with op.batch_alter_table("schools") as batch:
        batch.drop_column("stock_response")
    with op.batch_alter_table("cases") as batch:
        batch.drop_constraint("fk_cases_subject_id_people", type_="foreignkey")
        batch.drop_column("hr_escalated_at")
        batch.drop_column("safeguarding")
        batch.drop_column("subject_id")

"""cases awaiting their run: a partial index for the worker's hand-off

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

AWAITING_RUN_SQL = "flow_run_id IS NULL AND status = 'open'"


def upgrade() -> None:
    op.create_index(
        "ix_cases_awaiting_run",
        "cases",
        ["id"],
        sqlite_where=sa.text(AWAITING_RUN_SQL),
        postgresql_where=sa.text(AWAITING_RUN_SQL),
    )


def downgrade() -> None:
    op.drop_index("ix_cases_awaiting_run", table_name="cases")

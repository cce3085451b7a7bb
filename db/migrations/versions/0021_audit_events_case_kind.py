"""a case's events of some kinds: an index on (case_id, kind, seq)

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07

The case page asks for a case's events of a few kinds (its history's count, the access log,
corrections, marks in error, the procedure's last flow event, the letter's changes). With
only (case_id, seq) each of those read every event of the case: 5,000 on a long-running
one. This index finds them directly, and answers the counts on its own.
"""

from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_audit_events_case_kind_seq", "audit_events", ["case_id", "kind", "seq"])


def downgrade() -> None:
    op.drop_index("ix_audit_events_case_kind_seq", table_name="audit_events")

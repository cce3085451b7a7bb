"""report drafts: a checked report waits here for its sender to check the answers and send it

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

INCIDENT_TYPES = ("pupil_contact", "parent_contact", "online_abuse", "staff_conduct")


def upgrade() -> None:
    op.create_table(
        "report_drafts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column(
            "incident_type",
            sa.Enum(*INCIDENT_TYPES, name="incidenttype", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("evidence_source", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_report_drafts_person_id_people")
        ),
        sa.ForeignKeyConstraint(
            ["school_id"], ["schools.id"], name=op.f("fk_report_drafts_school_id_schools")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_report_drafts_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_drafts")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_report_drafts_token_hash")),
    )
    op.create_index(op.f("ix_report_drafts_person_id"), "report_drafts", ["person_id"])
    op.create_index(op.f("ix_report_drafts_created_at"), "report_drafts", ["created_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_report_drafts_created_at"), table_name="report_drafts")
    op.drop_index(op.f("ix_report_drafts_person_id"), table_name="report_drafts")
    op.drop_table("report_drafts")

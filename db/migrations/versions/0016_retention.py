"""retention: each closed case's review date, legal holds, the tombstones of disposed cases
and each school's retention rules; closed cases get their review date under the defaults

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from core.enums import IncidentType
from core.retention import CaseDates, review_of

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("schools", sa.Column("retention", sa.JSON(), nullable=True))
    op.add_column("cases", sa.Column("review_on", sa.Date(), nullable=True))
    op.add_column(
        "cases",
        sa.Column("review_extended", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column("cases", sa.Column("disposed_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_cases_school_review", "cases", ["school_id", "review_on"])
    op.create_table(
        "legal_holds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("placed_by_id", sa.Integer(), nullable=False),
        sa.Column("placed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("released_by_id", sa.Integer(), nullable=True),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("release_reason", sa.Text(), nullable=False, server_default=""),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_legal_holds_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["placed_by_id"], ["people.id"], name=op.f("fk_legal_holds_placed_by_id_people")
        ),
        sa.ForeignKeyConstraint(
            ["released_by_id"], ["people.id"], name=op.f("fk_legal_holds_released_by_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_legal_holds")),
    )
    op.create_index(op.f("ix_legal_holds_case_id"), "legal_holds", ["case_id"])
    op.create_table(
        "case_disposals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("disposed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disposed_by_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("record_classes", sa.String(length=60), nullable=False),
        sa.Column("review_on", sa.Date(), nullable=True),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_disposals_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["disposed_by_id"], ["people.id"], name=op.f("fk_case_disposals_disposed_by_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_disposals")),
        sa.UniqueConstraint("case_id", name=op.f("uq_case_disposals_case_id")),
    )
    date_existing_closed_cases()


def aware(value: datetime | str) -> datetime:
    """A stored time as UTC (SQLite hands back text or a naive value)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def date_existing_closed_cases() -> None:
    """Cases closed before retention existed are due under Casework's default rules (no
    school has rules of its own yet), counted from when they really closed."""
    bind = op.get_bind()
    cases = sa.table(
        "cases",
        sa.column("id", sa.Integer()),
        sa.column("incident_type", sa.String()),
        sa.column("details", sa.JSON()),
        sa.column("safeguarding", sa.Boolean()),
        sa.column("occurred_at", sa.DateTime()),
        sa.column("opened_at", sa.DateTime()),
        sa.column("closed_at", sa.DateTime()),
        sa.column("review_on", sa.Date()),
    )
    rows = bind.execute(
        sa.select(
            cases.c.id,
            cases.c.incident_type,
            cases.c.details,
            cases.c.safeguarding,
            cases.c.occurred_at,
            cases.c.opened_at,
            cases.c.closed_at,
        ).where(cases.c.closed_at.is_not(None))
    ).all()
    for row in rows:
        review = review_of(
            CaseDates(
                incident_type=IncidentType(row.incident_type),
                details=row.details or {},
                safeguarding=bool(row.safeguarding),
                occurred_on=aware(row.occurred_at).date(),
                opened_on=aware(row.opened_at).date(),
                closed_on=aware(row.closed_at).date(),
            )
        )
        bind.execute(cases.update().where(cases.c.id == row.id).values(review_on=review.on))


def downgrade() -> None:
    op.drop_table("case_disposals")
    op.drop_index(op.f("ix_legal_holds_case_id"), table_name="legal_holds")
    op.drop_table("legal_holds")
    op.drop_index("ix_cases_school_review", table_name="cases")
    with op.batch_alter_table("cases") as batch_op:
        batch_op.drop_column("disposed_at")
        batch_op.drop_column("review_extended")
        batch_op.drop_column("review_on")
    with op.batch_alter_table("schools") as batch_op:
        batch_op.drop_column("retention")

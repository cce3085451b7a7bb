"""search and linked cases: the search index, the accounts cases name, and list indexes

Revision ID: 0010
Revises: 0008
Create Date: 2026-12-08

The search index is an FTS5 table on SQLite and a table with a tsvector column and a GIN
index on PostgreSQL (db/search.py explains its rows). Every existing case is indexed here,
through the same `db.search.write_index` that intake uses, reading the case columns this
revision knows by name (not the ORM model, which later revisions may grow).
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from db.search import SEARCH_TABLE, text_of, write_index

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

BATCH = 500
CASES = sa.table(
    "cases",
    sa.column("id", sa.Integer),
    sa.column("reference", sa.String),
    sa.column("incident_type", sa.String),
    sa.column("platform", sa.String),
    sa.column("description", sa.Text),
    sa.column("details", sa.JSON),
    sa.column("reporter_id", sa.Integer),
    sa.column("lead_id", sa.Integer),
    sa.column("subject_id", sa.Integer),
)
PEOPLE = sa.table("people", sa.column("id", sa.Integer), sa.column("name", sa.String))


def upgrade() -> None:
    op.create_table(
        "case_mentions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=20), nullable=False),
        sa.Column("handle", sa.String(length=300), nullable=False),
        sa.Column("shown_to_all", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_mentions_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_mentions")),
        sa.UniqueConstraint(
            "case_id", "platform", "handle", name="uq_case_mentions_case_account"
        ),
    )
    op.create_index("ix_case_mentions_account", "case_mentions", ["platform", "handle"])
    # Who may see a case: "asked about it" reads these two columns for every list.
    op.create_index(op.f("ix_case_steps_owner_id"), "case_steps", ["owner_id"])
    op.create_index(op.f("ix_cases_reporter_id"), "cases", ["reporter_id"])
    op.create_index(op.f("ix_cases_lead_id"), "cases", ["lead_id"])
    # The case list: a school's cases, newest first.
    op.create_index("ix_cases_school_opened", "cases", ["school_id", "opened_at"])
    # A case's events in order (the page reads its newest): replaces the case_id index.
    op.create_index("ix_audit_events_case_seq", "audit_events", ["case_id", "seq"])
    op.drop_index(op.f("ix_audit_events_case_id"), table_name="audit_events")
    if op.get_bind().dialect.name == "postgresql":
        create_postgresql_index()
    else:
        op.execute(
            f"CREATE VIRTUAL TABLE {SEARCH_TABLE} USING fts5("
            "reference, accounts, names, body, tokenize = 'unicode61 remove_diacritics 2')"
        )
    backfill()


def create_postgresql_index() -> None:
    op.create_table(
        SEARCH_TABLE,
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("full_record", sa.Boolean(), nullable=False),
        sa.Column("reference", sa.Text(), nullable=False),
        sa.Column("accounts", sa.Text(), nullable=False),
        sa.Column("names", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("document", postgresql.TSVECTOR(), nullable=False),
        sa.PrimaryKeyConstraint("case_id", "full_record", name="pk_case_search"),
    )
    op.create_index(
        "ix_case_search_document", SEARCH_TABLE, ["document"], postgresql_using="gin"
    )


def backfill() -> None:
    """Index every case that exists, a batch at a time."""
    bind = op.get_bind()
    names = dict(bind.execute(sa.select(PEOPLE.c.id, PEOPLE.c.name)).all())
    last = 0
    with Session(bind=bind) as session:
        while True:
            rows = bind.execute(
                sa.select(CASES).where(CASES.c.id > last).order_by(CASES.c.id).limit(BATCH)
            ).all()
            if not rows:
                break
            write_index(session, [text_of(row, names) for row in rows])
            last = rows[-1].id


def downgrade() -> None:
    op.drop_table(SEARCH_TABLE)
    op.create_index(op.f("ix_audit_events_case_id"), "audit_events", ["case_id"])
    op.drop_index("ix_audit_events_case_seq", table_name="audit_events")
    op.drop_index("ix_cases_school_opened", table_name="cases")
    op.drop_index(op.f("ix_cases_lead_id"), table_name="cases")
    op.drop_index(op.f("ix_cases_reporter_id"), table_name="cases")
    op.drop_index(op.f("ix_case_steps_owner_id"), table_name="case_steps")
    op.drop_index("ix_case_mentions_account", table_name="case_mentions")
    op.drop_table("case_mentions")

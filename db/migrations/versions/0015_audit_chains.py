"""audit events: one chain per school, so that schools do not queue behind each other; an
index on the actor for a person's history

Every event gets the chain it is on and its place there. The events written before stay on
one chain (named "") with their place equal to their number, and keep their hashes. The
guard of 0014 is lifted for the length of this migration only, to fill in those places.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

REFUSED = "audit events are append-only: record a correction instead"


def _sqlite_guard(create: bool) -> None:
    for action in ("UPDATE", "DELETE"):
        name = f"audit_events_no_{action.lower()}"
        op.execute(
            f"CREATE TRIGGER {name} BEFORE {action} ON audit_events "
            f"BEGIN SELECT RAISE(ABORT, '{REFUSED}'); END"
            if create
            else f"DROP TRIGGER {name}"
        )


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute("ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_change")
    else:
        _sqlite_guard(create=False)
    op.add_column(
        "audit_events", sa.Column("chain", sa.String(40), server_default="", nullable=False)
    )
    op.add_column("audit_events", sa.Column("chain_seq", sa.BigInteger(), nullable=True))
    op.execute("UPDATE audit_events SET chain_seq = seq")
    with op.batch_alter_table("audit_events") as batch:
        batch.alter_column("chain_seq", existing_type=sa.BigInteger(), nullable=False)
        batch.create_unique_constraint("uq_audit_events_chain_seq", ["chain", "chain_seq"])
    op.create_index("ix_audit_events_actor_id", "audit_events", ["actor_id"])
    if postgres:
        # New events take their number from the id sequence: make it start past both.
        op.execute(
            "SELECT setval(pg_get_serial_sequence('audit_events', 'id'), "
            "GREATEST((SELECT MAX(id) FROM audit_events), (SELECT MAX(seq) FROM audit_events), "
            "1))"
        )
        op.execute("ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_change")
    else:
        _sqlite_guard(create=True)  # the batch rebuilt the table, so its triggers went too


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute("ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_change")
    else:
        _sqlite_guard(create=False)
    op.drop_index("ix_audit_events_actor_id", "audit_events")
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_constraint("uq_audit_events_chain_seq", type_="unique")
        batch.drop_column("chain_seq")
        batch.drop_column("chain")
    if postgres:
        op.execute("ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_change")
    else:
        _sqlite_guard(create=True)

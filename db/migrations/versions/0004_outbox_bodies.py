"""email bodies stored once: outbox rows point at an outbox_bodies row

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

import hashlib
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

BATCH = 1000


def digest(subject: str, text: str, html: str) -> str:
    """The same digest db/outbox.py gives a body (a copy: migrations must not import app code)."""
    return hashlib.sha256("\0".join((subject, text, html)).encode("utf-8")).hexdigest()


def upgrade() -> None:
    op.create_table(
        "outbox_bodies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("text_body", sa.Text(), nullable=False),
        sa.Column("html_body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_bodies")),
        sa.UniqueConstraint("digest", name=op.f("uq_outbox_bodies_digest")),
    )
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("body_id", sa.Integer(), nullable=True))
    move_bodies()
    with op.batch_alter_table("outbox") as batch:
        batch.alter_column("body_id", existing_type=sa.Integer(), nullable=False)
        batch.create_foreign_key(
            op.f("fk_outbox_body_id_outbox_bodies"), "outbox_bodies", ["body_id"], ["id"]
        )
        batch.create_index(op.f("ix_outbox_body_id"), ["body_id"])
        batch.drop_column("subject")
        batch.drop_column("text_body")
        batch.drop_column("html_body")


def move_bodies() -> None:
    """Give every existing row a body, one per distinct content."""
    bind = op.get_bind()
    outbox = sa.table(
        "outbox",
        sa.column("id", sa.Integer()),
        sa.column("subject", sa.String()),
        sa.column("text_body", sa.Text()),
        sa.column("html_body", sa.Text()),
        sa.column("body_id", sa.Integer()),
    )
    bodies = sa.table(
        "outbox_bodies",
        sa.column("id", sa.Integer()),
        sa.column("digest", sa.String()),
        sa.column("subject", sa.String()),
        sa.column("text_body", sa.Text()),
        sa.column("html_body", sa.Text()),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    known: dict[str, int] = {}
    last = 0
    now = datetime.now(UTC)
    while True:
        rows = bind.execute(
            sa.select(outbox.c.id, outbox.c.subject, outbox.c.text_body, outbox.c.html_body)
            .where(outbox.c.id > last)
            .order_by(outbox.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        for row in rows:
            key = digest(row.subject, row.text_body, row.html_body)
            if key not in known:
                known[key] = bind.execute(
                    bodies.insert()
                    .values(
                        digest=key,
                        subject=row.subject,
                        text_body=row.text_body,
                        html_body=row.html_body,
                        created_at=now,
                    )
                    .returning(bodies.c.id)
                ).scalar_one()
            bind.execute(
                outbox.update().where(outbox.c.id == row.id).values(body_id=known[key])
            )
        last = rows[-1].id


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("subject", sa.String(length=300), nullable=True))
        batch.add_column(sa.Column("text_body", sa.Text(), nullable=True))
        batch.add_column(sa.Column("html_body", sa.Text(), nullable=True))
    op.execute(
        "UPDATE outbox SET subject = b.subject, text_body = b.text_body, html_body = b.html_body"
        " FROM outbox_bodies AS b WHERE b.id = outbox.body_id"
    )
    with op.batch_alter_table("outbox") as batch:
        batch.alter_column("subject", existing_type=sa.String(length=300), nullable=False)
        batch.alter_column("text_body", existing_type=sa.Text(), nullable=False)
        batch.alter_column("html_body", existing_type=sa.Text(), nullable=False)
        batch.drop_index(op.f("ix_outbox_body_id"))
        batch.drop_constraint(op.f("fk_outbox_body_id_outbox_bodies"), type_="foreignkey")
        batch.drop_column("body_id")
    op.drop_table("outbox_bodies")

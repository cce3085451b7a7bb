"""organisations hold schools; a school's phase; people serve several schools; a session's school

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06

Each school that exists already gets an organisation of its own (kind single_school), so
every school belongs to exactly one organisation from here on.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "organisations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    with op.batch_alter_table("schools") as batch:
        batch.add_column(sa.Column("organisation_id", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column("phase", sa.String(32), nullable=False, server_default="primary")
        )
    bind = op.get_bind()
    schools = bind.execute(sa.text("SELECT id, name, created_at FROM schools ORDER BY id"))
    for school_id, name, created_at in list(schools):
        organisation_id = bind.execute(
            sa.text(
                "INSERT INTO organisations (name, kind, created_at) "
                "VALUES (:name, 'single_school', :at) RETURNING id"
            ),
            {"name": name, "at": created_at},
        ).scalar_one()
        bind.execute(
            sa.text("UPDATE schools SET organisation_id = :org WHERE id = :id"),
            {"org": organisation_id, "id": school_id},
        )
    with op.batch_alter_table("schools") as batch:
        batch.alter_column("organisation_id", existing_type=sa.Integer(), nullable=False)
        batch.create_foreign_key(
            "fk_schools_organisation_id_organisations",
            "organisations",
            ["organisation_id"],
            ["id"],
        )
        batch.create_index("ix_schools_organisation_id", ["organisation_id"])
    op.create_table(
        "person_schools",
        sa.Column(
            "person_id",
            sa.Integer(),
            sa.ForeignKey("people.id", name="fk_person_schools_person_id_people"),
            primary_key=True,
        ),
        sa.Column(
            "school_id",
            sa.Integer(),
            sa.ForeignKey("schools.id", name="fk_person_schools_school_id_schools"),
            primary_key=True,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    with op.batch_alter_table("user_sessions") as batch:
        batch.add_column(sa.Column("school_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_user_sessions_school_id_schools", "schools", ["school_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("user_sessions") as batch:
        batch.drop_constraint("fk_user_sessions_school_id_schools", type_="foreignkey")
        batch.drop_column("school_id")
    op.drop_table("person_schools")
    with op.batch_alter_table("schools") as batch:
        batch.drop_index("ix_schools_organisation_id")
        batch.drop_constraint("fk_schools_organisation_id_organisations", type_="foreignkey")
        batch.drop_column("phase")
        batch.drop_column("organisation_id")
    op.drop_table("organisations")

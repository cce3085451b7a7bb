"""parent directory (year groups, contact preference, postal address) and print files

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("people") as batch:
        batch.add_column(
            sa.Column("year_groups", sa.String(length=200), nullable=False, server_default="")
        )
        batch.add_column(
            sa.Column(
                "contact_by",
                sa.Enum("email", "post", name="contactby", native_enum=False, length=32),
                nullable=False,
                server_default="email",
            )
        )
        batch.add_column(sa.Column("postal_address", sa.Text(), nullable=False, server_default=""))

    op.create_table(
        "print_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=60), nullable=False),
        sa.Column("stored_name", sa.String(length=80), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("letters", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("printed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("printed_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_print_files_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["printed_by_id"], ["people.id"], name=op.f("fk_print_files_printed_by_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_print_files")),
        sa.UniqueConstraint("stored_name", name=op.f("uq_print_files_stored_name")),
    )
    op.create_index(op.f("ix_print_files_case_id"), "print_files", ["case_id"])

    op.create_table(
        "postal_letters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("print_file_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("page", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["print_file_id"],
            ["print_files.id"],
            name=op.f("fk_postal_letters_print_file_id_print_files"),
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_postal_letters_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_postal_letters_person_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_postal_letters")),
        sa.UniqueConstraint("print_file_id", "person_id", name="uq_postal_letters_file_person"),
    )
    op.create_index(op.f("ix_postal_letters_print_file_id"), "postal_letters", ["print_file_id"])
    op.create_index(op.f("ix_postal_letters_case_id"), "postal_letters", ["case_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_postal_letters_case_id"), table_name="postal_letters")
    op.drop_index(op.f("ix_postal_letters_print_file_id"), table_name="postal_letters")
    op.drop_table("postal_letters")
    op.drop_index(op.f("ix_print_files_case_id"), table_name="print_files")
    op.drop_table("print_files")
    with op.batch_alter_table("people") as batch:
        batch.drop_column("postal_address")
        batch.drop_column("contact_by")
        batch.drop_column("year_groups")

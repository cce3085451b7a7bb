"""identity providers: whether an email claim without email_verified counts as verified
(Microsoft Entra ID sends none)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-14
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("identity_providers") as batch_op:
        batch_op.add_column(
            sa.Column("trust_email", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("identity_providers") as batch_op:
        batch_op.drop_column("trust_email")

"""agent status (online/away) and capacity (max concurrent assigned conversations)

Batch mode so SQLite (which cannot ALTER most things) and PostgreSQL run the same script;
server defaults fill the existing rows.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("status", sa.String(length=16), server_default="online", nullable=False)
        )
        batch_op.add_column(sa.Column("capacity", sa.Integer(), server_default="3", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.drop_column("capacity")
        batch_op.drop_column("status")

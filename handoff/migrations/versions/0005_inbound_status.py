"""inbound message status: received, answered, failed (answer what a crash left unanswered)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("messages", sa.Column("answer_status", sa.String(length=16), nullable=True))
    op.create_index("ix_messages_answer_status", "messages", ["answer_status"])


def downgrade() -> None:
    op.drop_index("ix_messages_answer_status", table_name="messages")
    op.drop_column("messages", "answer_status")

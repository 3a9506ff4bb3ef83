"""When a subscriber's double opt-in email is due, so that none is lost to a crash or an
unreachable relay: the service's sweep sends every confirmation whose time has come.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Add subscribers.confirmation_due_at; imports still waiting for theirs are due now."""
    op.add_column("subscribers", sa.Column("confirmation_due_at", TIMESTAMP))
    op.create_index("ix_subscribers_confirmation_due", "subscribers", ["confirmation_due_at"])
    op.execute(
        "UPDATE subscribers SET confirmation_due_at = created_at "
        "WHERE status = 'pending' AND last_confirmation_sent_at IS NULL"
    )


def downgrade() -> None:
    """Drop subscribers.confirmation_due_at."""
    op.drop_index("ix_subscribers_confirmation_due", table_name="subscribers")
    with op.batch_alter_table("subscribers") as batch:
        batch.drop_column("confirmation_due_at")

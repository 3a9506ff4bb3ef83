"""Mark the deliveries queued for channels that take batches (email lists, webhooks,
feeds), and index the others' due times on their own: the loops that deliver one by one
(website, radio, fan pages) then find their work without walking past a queued fan-out
of a million emails at every look. Deliveries queued before this count as one by one
(the one-by-one loops hand a batch channel's share to it in batches all the same).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | Sequence[str] | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ONE_BY_ONE = sa.text("NOT batch")


def upgrade() -> None:
    """Add deliveries.batch (false) and ix_deliveries_claim_one (next_attempt_at, id)
    WHERE NOT batch."""
    op.add_column(
        "deliveries",
        sa.Column("batch", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_index(
        "ix_deliveries_claim_one",
        "deliveries",
        ["next_attempt_at", "id"],
        sqlite_where=ONE_BY_ONE,
        postgresql_where=ONE_BY_ONE,
    )


def downgrade() -> None:
    """Drop ix_deliveries_claim_one and deliveries.batch."""
    op.drop_index("ix_deliveries_claim_one", table_name="deliveries")
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("batch")

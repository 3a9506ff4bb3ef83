"""Soft bounces already scored, by message and address, so a bounce read twice counts once.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)  # frozen copy of the type as of this revision


def upgrade() -> None:
    """Create counted_bounces."""
    op.create_table(
        "counted_bounces",
        sa.Column("message_key", sa.String(64), nullable=False),
        sa.Column("email_hash", sa.String(64), nullable=False),
        sa.Column("counted_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("message_key", "email_hash", name="pk_counted_bounces"),
    )


def downgrade() -> None:
    """Drop counted_bounces."""
    op.drop_table("counted_bounces")

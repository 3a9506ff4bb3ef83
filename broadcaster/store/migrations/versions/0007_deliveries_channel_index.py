"""Index deliveries by channel: the website's and feeds' deliveries are found without
reading every email delivery (a million rows per publication to a big list).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ix_deliveries_channel (channel, publication_id)."""
    op.create_index("ix_deliveries_channel", "deliveries", ["channel", "publication_id"])


def downgrade() -> None:
    """Drop ix_deliveries_channel."""
    op.drop_index("ix_deliveries_channel", table_name="deliveries")

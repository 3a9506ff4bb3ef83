"""Index the channel-wide deliveries (the website's and feeds', recipient ''): they are
found without reading every email delivery (a million rows per publication to a big list).
Partial, so email deliveries never enter it and the claim queries keep their own index.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHANNEL_WIDE = sa.text("recipient = ''")


def upgrade() -> None:
    """Add ix_deliveries_channel_wide (channel, publication_id) WHERE recipient = ''."""
    op.create_index(
        "ix_deliveries_channel_wide",
        "deliveries",
        ["channel", "publication_id"],
        sqlite_where=CHANNEL_WIDE,
        postgresql_where=CHANNEL_WIDE,
    )


def downgrade() -> None:
    """Drop ix_deliveries_channel_wide."""
    op.drop_index("ix_deliveries_channel_wide", table_name="deliveries")

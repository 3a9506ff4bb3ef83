"""Fan-page posts (Facebook pages, Zalo OAs) and the alerts of channels that stopped.

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)  # frozen copy of the type as of this revision
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create fanpage_posts and channel_alerts."""
    op.create_table(
        "fanpage_posts",
        sa.Column("channel", sa.String(100), nullable=False),
        sa.Column("page", sa.String(200), nullable=False),
        sa.Column("campaign_id", sa.String(200), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("post_id", sa.String(200)),
        sa.Column("pending_token", sa.String(500)),
        sa.Column("broadcast_id", sa.String(200)),
        sa.Column("delivery_id", ID, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("channel", "page", "campaign_id", name="pk_fanpage_posts"),
        sa.CheckConstraint(
            "state IN ('pending', 'live', 'withdrawn')", name="ck_fanpage_posts_state"
        ),
    )
    op.create_table(
        "channel_alerts",
        sa.Column("channel", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("delivery_id", ID),
        sa.Column("raised_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("channel", name="pk_channel_alerts"),
    )


def downgrade() -> None:
    """Drop fanpage_posts and channel_alerts."""
    op.drop_table("channel_alerts")
    op.drop_table("fanpage_posts")

"""Media partners (webhook endpoints), the event type of each webhook delivery, replays.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the types and vocabularies as of this revision.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIMESTAMP = sa.DateTime(timezone=True)
EVENT_TYPES = "'publication.created', 'publication.updated', 'publication.withdrawn'"


def upgrade() -> None:
    """Create partners and webhook_events; count attempts from the last replay."""
    op.create_table(
        "partners",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("topics", sa.JSON(), nullable=False),
        sa.Column("locales", sa.JSON(), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("previous_secret", sa.Text()),
        sa.Column("previous_until", TIMESTAMP),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("disabled_reason", sa.Text()),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_partners"),
        sa.UniqueConstraint("name", name="uq_partners_name"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "webhook_events",
        sa.Column("delivery_id", ID, nullable=False),
        sa.Column("event_type", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("delivery_id", name="pk_webhook_events"),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["deliveries.id"],
            name="fk_webhook_events_delivery_id_deliveries",
            ondelete="CASCADE",
        ),
        sa.CheckConstraint(f"event_type IN ({EVENT_TYPES})", name="ck_webhook_events_event_type"),
    )
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(
            sa.Column("attempt_base", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    """Drop what `upgrade` added."""
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("attempt_base")
    op.drop_table("webhook_events")
    op.drop_table("partners")

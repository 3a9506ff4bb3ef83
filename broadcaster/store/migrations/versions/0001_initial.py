"""Publications, schedule firings, renditions, deliveries and their attempts.

Revision ID: 0001
Revises:
Create Date: 2026-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the types and vocabularies as of this revision: a migration must not
# change when the application code does.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIMESTAMP = sa.DateTime(timezone=True)
DELIVERY_STATUSES = (
    "'created', 'sending', 'delivered', 'temporary-failure', "
    "'permanent-failure', 'technical-failure', 'cancelled'"
)
ATTEMPT_OUTCOMES = (
    "'delivered', 'cancelled', 'temporary-failure', 'permanent-failure', "
    "'technical-failure', 'lease-expired'"
)


# Long on purpose: a migration is one schema step, read top to bottom as the tables it makes.
def upgrade() -> None:
    """Create the five tables."""
    op.create_table(
        "publications",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("campaign_id", sa.String(200), nullable=False),
        sa.Column("revision", sa.String(128), nullable=False),
        sa.Column("schedule_id", sa.String(200)),
        sa.Column("fire_time", TIMESTAMP),
        sa.Column("channels", sa.JSON(), nullable=False),
        sa.Column("snapshot", sa.Text()),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_publications"),
        sa.UniqueConstraint(
            "schedule_id", "fire_time", name="uq_publications_schedule_id_fire_time"
        ),
        sa.CheckConstraint(
            "(schedule_id IS NULL) = (fire_time IS NULL)", name="ck_publications_firing"
        ),
        sa.CheckConstraint("source IN ('schedule', 'cli', 'admin')", name="ck_publications_source"),
        sa.CheckConstraint("status IN ('created', 'enqueued')", name="ck_publications_status"),
    )
    op.create_table(
        "schedule_firings",
        sa.Column("schedule_id", sa.String(200), nullable=False),
        sa.Column("fire_time", TIMESTAMP, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("publication_id", ID),
        sa.Column("recorded_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("schedule_id", "fire_time", name="pk_schedule_firings"),
        sa.ForeignKeyConstraint(
            ["publication_id"],
            ["publications.id"],
            name="fk_schedule_firings_publication_id_publications",
            ondelete="SET NULL",
        ),
        sa.CheckConstraint(
            "outcome IN ('published', 'missed')", name="ck_schedule_firings_outcome"
        ),
    )
    op.create_table(
        "deliveries",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("publication_id", ID, nullable=False),
        sa.Column("channel", sa.String(100), nullable=False),
        sa.Column("recipient", sa.String(320), nullable=False),
        sa.Column("locale", sa.String(16), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", TIMESTAMP),
        sa.Column("lease_owner", sa.String(200)),
        sa.Column("lease_expires_at", TIMESTAMP),
        sa.Column("dedup_key", sa.String(64), nullable=False),
        sa.Column("receipt", sa.Text()),
        sa.Column("last_error", sa.Text()),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_deliveries"),
        sa.ForeignKeyConstraint(
            ["publication_id"],
            ["publications.id"],
            name="fk_deliveries_publication_id_publications",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint(
            "publication_id",
            "channel",
            "recipient",
            name="uq_deliveries_publication_id_channel_recipient",
        ),
        sa.CheckConstraint(f"status IN ({DELIVERY_STATUSES})", name="ck_deliveries_status"),
    )
    op.create_index("ix_deliveries_claim", "deliveries", ["next_attempt_at", "id"])
    op.create_index("ix_deliveries_lease_owner", "deliveries", ["lease_owner"])
    op.create_index("ix_deliveries_recipient", "deliveries", ["recipient"])
    op.create_table(
        "delivery_attempts",
        sa.Column("delivery_id", ID, nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("worker", sa.String(200), nullable=False),
        sa.Column("started_at", TIMESTAMP, nullable=False),
        sa.Column("finished_at", TIMESTAMP),
        sa.Column("outcome", sa.String(24)),
        sa.Column("error", sa.Text()),
        sa.PrimaryKeyConstraint("delivery_id", "attempt", name="pk_delivery_attempts"),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["deliveries.id"],
            name="fk_delivery_attempts_delivery_id_deliveries",
            ondelete="CASCADE",
        ),
        sa.CheckConstraint(f"outcome IN ({ATTEMPT_OUTCOMES})", name="ck_delivery_attempts_outcome"),
    )
    op.create_table(
        "renditions",
        sa.Column("publication_id", ID, nullable=False),
        sa.Column("channel", sa.String(100), nullable=False),
        sa.Column("locale", sa.String(16), nullable=False),
        sa.Column("media_type", sa.String(100), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("publication_id", "channel", "locale", name="pk_renditions"),
        sa.ForeignKeyConstraint(
            ["publication_id"],
            ["publications.id"],
            name="fk_renditions_publication_id_publications",
            ondelete="CASCADE",
        ),
    )


def downgrade() -> None:
    """Drop the five tables."""
    op.drop_table("renditions")
    op.drop_table("delivery_attempts")
    op.drop_index("ix_deliveries_recipient", table_name="deliveries")
    op.drop_index("ix_deliveries_lease_owner", table_name="deliveries")
    op.drop_index("ix_deliveries_claim", table_name="deliveries")
    op.drop_table("deliveries")
    op.drop_table("schedule_firings")
    op.drop_table("publications")

"""Subscribers, their consent records, and suppressed address hashes.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the types and vocabularies as of this revision: a migration must not
# change when the application code does.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIMESTAMP = sa.DateTime(timezone=True)
STATUSES = "'pending', 'confirmed', 'unsubscribed'"
FREQUENCIES = "'immediate', 'daily', 'weekly'"
ACTIONS = "'subscribe', 'confirm', 'import', 'preferences', 'unsubscribe'"
FORMS = "'web', 'json', 'import', 'cli', 'one-click', 'mailto', 'complaint'"
REASONS = "'hard-bounce', 'soft-bounces', 'complaint', 'deleted', 'manual'"


def upgrade() -> None:
    """Create subscribers, consents and suppressions."""
    op.create_table(
        "subscribers",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("email_hash", sa.String(64), nullable=False),
        sa.Column("locale", sa.String(16), nullable=False),
        sa.Column("topics", sa.JSON(), nullable=False),
        sa.Column("frequency", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("confirmed_at", TIMESTAMP),
        sa.Column("unsubscribed_at", TIMESTAMP),
        sa.Column("last_digest_at", TIMESTAMP),
        sa.Column("last_confirmation_sent_at", TIMESTAMP),
        sa.Column("token_version", sa.Integer(), nullable=False),
        sa.Column("bounce_score", sa.Integer(), nullable=False),
        sa.Column("last_bounce_at", TIMESTAMP),
        sa.PrimaryKeyConstraint("id", name="pk_subscribers"),
        sa.UniqueConstraint("email", name="uq_subscribers_email"),
        sa.UniqueConstraint("email_hash", name="uq_subscribers_email_hash"),
        sa.CheckConstraint(f"status IN ({STATUSES})", name="ck_subscribers_status"),
        sa.CheckConstraint(f"frequency IN ({FREQUENCIES})", name="ck_subscribers_frequency"),
        # An erased subscriber's id must never be reused: tokens and deliveries carry it.
        sqlite_autoincrement=True,
    )
    op.create_index("ix_subscribers_sendable", "subscribers", ["status", "frequency", "id"])
    op.create_table(
        "consents",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("subscriber_id", ID, nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("at", TIMESTAMP, nullable=False),
        sa.Column("ip", sa.String(45)),
        sa.Column("form", sa.String(16), nullable=False),
        sa.Column("wording_version", sa.String(32)),
        sa.Column("note", sa.Text()),
        sa.PrimaryKeyConstraint("id", name="pk_consents"),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name="fk_consents_subscriber_id_subscribers",
            ondelete="CASCADE",
        ),
        sa.CheckConstraint(f"action IN ({ACTIONS})", name="ck_consents_action"),
        sa.CheckConstraint(f"form IN ({FORMS})", name="ck_consents_form"),
    )
    op.create_index("ix_consents_subscriber_id", "consents", ["subscriber_id"])
    op.create_table(
        "suppressions",
        sa.Column("email_hash", sa.String(64), nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("email_hash", name="pk_suppressions"),
        sa.CheckConstraint(f"reason IN ({REASONS})", name="ck_suppressions_reason"),
    )


def downgrade() -> None:
    """Drop the three tables."""
    op.drop_table("suppressions")
    op.drop_index("ix_consents_subscriber_id", table_name="consents")
    op.drop_table("consents")
    op.drop_index("ix_subscribers_sendable", table_name="subscribers")
    op.drop_table("subscribers")

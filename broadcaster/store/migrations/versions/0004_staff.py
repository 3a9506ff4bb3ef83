"""Staff accounts, sessions, API tokens, reviews, held publications, withdrawals, audit log.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the types and vocabularies as of this revision.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIMESTAMP = sa.DateTime(timezone=True)
ROLES = "'author', 'approver', 'admin'"
ACTIONS = "'requested', 'approved', 'rejected', 'emergency'"


def _user_fk(table: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["user_id"], ["users.id"], name=f"fk_{table}_user_id_users", ondelete=ondelete
    )


# Long on purpose: a migration is one schema step, read top to bottom as the tables it makes.
def upgrade() -> None:
    """Create the staff tables."""
    op.create_table(
        "users",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("email", sa.String(320)),
        sa.Column("password_hash", sa.Text()),
        sa.Column("password_changed_at", TIMESTAMP),
        sa.Column("setup_token_hash", sa.String(64)),
        sa.Column("setup_expires_at", TIMESTAMP),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("name", name="uq_users_name"),
        sa.CheckConstraint(f"role IN ({ROLES})", name="ck_users_role"),
    )
    op.create_table(
        "staff_sessions",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("expires_at", TIMESTAMP, nullable=False),
        sa.Column("ip", sa.String(45)),
        sa.PrimaryKeyConstraint("token_hash", name="pk_staff_sessions"),
        _user_fk("staff_sessions", "CASCADE"),
    )
    op.create_index("ix_staff_sessions_user_id", "staff_sessions", ["user_id"])
    op.create_table(
        "api_tokens",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("revoked_at", TIMESTAMP),
        sa.PrimaryKeyConstraint("id", name="pk_api_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_api_tokens_token_hash"),
        sa.CheckConstraint(f"role IN ({ROLES})", name="ck_api_tokens_role"),
        _user_fk("api_tokens", "CASCADE"),
    )
    op.create_table(
        "campaign_edits",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("campaign_id", sa.String(200), nullable=False),
        sa.Column("revision", sa.String(128), nullable=False),
        sa.Column("user_id", ID),
        sa.Column("at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_campaign_edits"),
        _user_fk("campaign_edits", "SET NULL"),
    )
    op.create_index("ix_campaign_edits_campaign_id", "campaign_edits", ["campaign_id", "revision"])
    op.create_table(
        "reviews",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("campaign_id", sa.String(200), nullable=False),
        sa.Column("revision", sa.String(128), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("user_id", ID),
        sa.Column("comment", sa.Text()),
        sa.Column("at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_reviews"),
        sa.CheckConstraint(f"action IN ({ACTIONS})", name="ck_reviews_action"),
        _user_fk("reviews", "SET NULL"),
    )
    op.create_index("ix_reviews_campaign_id", "reviews", ["campaign_id", "revision"])
    op.create_table(
        "held_publications",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("campaign_id", sa.String(200), nullable=False),
        sa.Column("revision", sa.String(128), nullable=False),
        sa.Column("schedule_id", sa.String(200), nullable=False),
        sa.Column("fire_time", TIMESTAMP, nullable=False),
        sa.Column("channels", sa.JSON(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("released_publication_id", ID),
        sa.Column("released_at", TIMESTAMP),
        sa.PrimaryKeyConstraint("id", name="pk_held_publications"),
        sa.UniqueConstraint(
            "schedule_id", "fire_time", name="uq_held_publications_schedule_id_fire_time"
        ),
        sa.ForeignKeyConstraint(
            ["released_publication_id"],
            ["publications.id"],
            name="fk_held_publications_released_publication_id_publications",
            ondelete="SET NULL",
        ),
    )
    op.create_table(
        "withdrawals",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("campaign_id", sa.String(200), nullable=False),
        sa.Column("revision", sa.String(128), nullable=False),
        sa.Column("user_id", ID),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_withdrawals"),
        _user_fk("withdrawals", "SET NULL"),
    )
    op.create_index("ix_withdrawals_campaign_id", "withdrawals", ["campaign_id"])
    op.create_table(
        "audit_log",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("at", TIMESTAMP, nullable=False),
        sa.Column("actor", sa.String(80), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("campaign_id", sa.String(200)),
        sa.Column("revision", sa.String(128)),
        sa.Column("detail", sa.Text()),
        sa.Column("ip", sa.String(45)),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])


def downgrade() -> None:
    """Drop the staff tables."""
    op.drop_index("ix_audit_log_at", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_index("ix_withdrawals_campaign_id", table_name="withdrawals")
    op.drop_table("withdrawals")
    op.drop_table("held_publications")
    op.drop_index("ix_reviews_campaign_id", table_name="reviews")
    op.drop_table("reviews")
    op.drop_index("ix_campaign_edits_campaign_id", table_name="campaign_edits")
    op.drop_table("campaign_edits")
    op.drop_table("api_tokens")
    op.drop_index("ix_staff_sessions_user_id", table_name="staff_sessions")
    op.drop_table("staff_sessions")
    op.drop_table("users")

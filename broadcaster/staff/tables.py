"""The staff tables, on the store's shared metadata (migration 0004 creates them).

`reviews` and `audit_log` are append-only: the application never updates or deletes a row.
A campaign revision's approval state is derived from its reviews, so an edit (a new
revision) starts with none.
"""

from __future__ import annotations

import enum

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from broadcaster.store.schema import Id, metadata
from broadcaster.store.types import UTCDateTime


class Role(enum.StrEnum):
    """What a staff member may do; each role includes the one before it."""

    AUTHOR = "author"
    APPROVER = "approver"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def allows(self, needed: Role) -> bool:
        """True when this role may do what `needed` may."""
        return self.rank >= needed.rank


class ReviewAction(enum.StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    REJECTED = "rejected"
    EMERGENCY = "emergency"  # an approver released it alone, with a reason


def _one_of(column: str, values: type[enum.StrEnum]) -> str:
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


users = Table(
    "users",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(80), nullable=False),
    Column("role", String(16), nullable=False),
    Column("email", String(320)),
    Column("password_hash", Text()),
    Column("password_changed_at", UTCDateTime()),
    Column("setup_token_hash", String(64)),
    Column("setup_expires_at", UTCDateTime()),
    Column("disabled", Boolean(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("name"),
    CheckConstraint(_one_of("role", Role), name="role"),
)

sessions = Table(
    "staff_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("ip", String(45)),
    Index("ix_staff_sessions_user_id", "user_id"),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("token_hash", String(64), nullable=False),
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("role", String(16), nullable=False),
    Column("label", String(200), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("revoked_at", UTCDateTime()),
    UniqueConstraint("token_hash"),
    CheckConstraint(_one_of("role", Role), name="role"),
)

campaign_edits = Table(
    "campaign_edits",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("campaign_id", String(200), nullable=False),
    Column("revision", String(128), nullable=False),
    Column("user_id", Id, ForeignKey("users.id", ondelete="SET NULL")),
    Column("at", UTCDateTime(), nullable=False),
    Index("ix_campaign_edits_campaign_id", "campaign_id", "revision"),
)

reviews = Table(
    "reviews",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("campaign_id", String(200), nullable=False),
    Column("revision", String(128), nullable=False),
    Column("action", String(16), nullable=False),
    Column("user_id", Id, ForeignKey("users.id", ondelete="SET NULL")),
    Column("comment", Text()),
    Column("at", UTCDateTime(), nullable=False),
    CheckConstraint(_one_of("action", ReviewAction), name="action"),
    Index("ix_reviews_campaign_id", "campaign_id", "revision"),
)

held_publications = Table(
    "held_publications",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("campaign_id", String(200), nullable=False),
    Column("revision", String(128), nullable=False),
    Column("schedule_id", String(200), nullable=False),
    Column("fire_time", UTCDateTime(), nullable=False),
    Column("channels", JSON(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("released_publication_id", Id, ForeignKey("publications.id", ondelete="SET NULL")),
    Column("released_at", UTCDateTime()),
    UniqueConstraint("schedule_id", "fire_time"),
)

withdrawals = Table(
    "withdrawals",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("campaign_id", String(200), nullable=False),
    Column("revision", String(128), nullable=False),
    Column("user_id", Id, ForeignKey("users.id", ondelete="SET NULL")),
    Column("reason", Text(), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Index("ix_withdrawals_campaign_id", "campaign_id"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime(), nullable=False),
    Column("actor", String(80), nullable=False),  # a user name, or "cli", "scheduler"
    Column("action", String(40), nullable=False),
    Column("campaign_id", String(200)),
    Column("revision", String(128)),
    Column("detail", Text()),
    Column("ip", String(45)),
    Index("ix_audit_log_at", "at"),
)

# Editor drafts: what someone typed and has not saved to the files yet (kept on every
# autosave and on a save the server could not take, e.g. after the session expired).
# `token` names a draft saved without a session, until its author signs in again.
editor_drafts = Table(
    "editor_drafts",
    metadata,
    Column("token", String(64), primary_key=True),
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE")),
    Column("campaign_id", String(200), nullable=False),
    Column("base_revision", String(128)),
    Column("fields", Text(), nullable=False),
    Column("saved_at", UTCDateTime(), nullable=False),
    Index("ix_editor_drafts_user_campaign", "user_id", "campaign_id"),
)

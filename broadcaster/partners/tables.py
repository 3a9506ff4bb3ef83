"""The partner registry's tables, on the store's shared metadata (migration 0003 creates them;
0014 the WebSub subscriptions).

A partner's signing secrets are stored encrypted (see `broadcaster.partners.secrets`), so a
database dump alone does not let anyone sign as the agency. `webhook_events` freezes, per
webhook delivery, which event type it carries, so every retry and replay signs the same bytes.
"""

from __future__ import annotations

import enum

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from broadcaster.store.schema import Id, metadata
from broadcaster.store.types import UTCDateTime


class EventType(enum.StrEnum):
    """What happened to a publication, from one partner's point of view."""

    CREATED = "publication.created"  # the first event of a campaign to this partner
    UPDATED = "publication.updated"  # a later revision of a campaign it already has
    WITHDRAWN = "publication.withdrawn"  # the campaign was taken down


def _one_of(column: str, values: type[enum.StrEnum]) -> str:
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


partners = Table(
    "partners",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False),
    Column("url", Text(), nullable=False),
    Column("topics", JSON(), nullable=False),  # [] = every topic
    Column("locales", JSON(), nullable=False),  # [] = every locale of the workspace
    Column("secret", Text(), nullable=False),  # encrypted
    Column("previous_secret", Text()),  # encrypted; still signs until previous_until
    Column("previous_until", UTCDateTime()),
    Column("enabled", Boolean(), nullable=False),
    Column("disabled_reason", Text()),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    UniqueConstraint("name"),
    sqlite_autoincrement=True,
)

webhook_events = Table(
    "webhook_events",
    metadata,
    Column(
        "delivery_id",
        Id,
        ForeignKey("deliveries.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("event_type", String(32), nullable=False),
    CheckConstraint(_one_of("event_type", EventType), name="event_type"),
)

# WebSub subscriptions to the feeds (`serve` is its own hub, broadcaster.partners.hub): one
# per (topic, callback), verified before it is stored, active until `expires_at`; a renewal
# replaces its lease and secret. The secret (`hub.secret`) is stored encrypted.
websub_subscriptions = Table(
    "websub_subscriptions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("topic", Text(), nullable=False),
    Column("callback", Text(), nullable=False),
    Column("locale", String(35), nullable=False),
    Column("secret", Text()),  # encrypted; None: distributions go unsigned
    Column("lease_seconds", Integer(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("renewed_at", UTCDateTime(), nullable=False),
    UniqueConstraint("topic", "callback"),
    sqlite_autoincrement=True,
)

"""The outbox's tables (publications, firings, deliveries, attempts, renditions) and the
status vocabularies stored in them.

Only modules of `broadcaster.outbox` use these tables; other wings call the Outbox (a test
checks it). Their enums are vocabulary, free to import.
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
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)

from broadcaster.store.schema import Id, metadata
from broadcaster.store.types import UTCDateTime


class DeliveryStatus(enum.StrEnum):
    """GOV.UK Notify's delivery statuses, plus `cancelled`: withdrawn before sending.

    `cancelled` is what an unsubscribe or suppression does to a message still queued.
    """

    CREATED = "created"
    SENDING = "sending"
    DELIVERED = "delivered"
    TEMPORARY_FAILURE = "temporary-failure"
    PERMANENT_FAILURE = "permanent-failure"
    TECHNICAL_FAILURE = "technical-failure"
    CANCELLED = "cancelled"


class AttemptOutcome(enum.StrEnum):
    """How one attempt ended; `lease-expired` means its worker vanished mid-delivery."""

    DELIVERED = "delivered"
    CANCELLED = "cancelled"  # withdrawn by its worker, unsent
    TEMPORARY_FAILURE = "temporary-failure"
    PERMANENT_FAILURE = "permanent-failure"
    TECHNICAL_FAILURE = "technical-failure"
    LEASE_EXPIRED = "lease-expired"


class PublicationSource(enum.StrEnum):
    SCHEDULE = "schedule"
    CLI = "cli"
    ADMIN = "admin"


class PublicationKind(enum.StrEnum):
    """What a publication carries: a campaign revision, or its withdrawal (to partners)."""

    PUBLICATION = "publication"
    WITHDRAWAL = "withdrawal"  # `publication.withdrawn` to partners that had the campaign


class PublicationStatus(enum.StrEnum):
    """`created` until its deliveries are in the outbox, then `enqueued`."""

    CREATED = "created"
    ENQUEUED = "enqueued"


class FiringOutcome(enum.StrEnum):
    PUBLISHED = "published"
    MISSED = "missed"


def _one_of(column: str, values: type[enum.StrEnum]) -> str:
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


publications = Table(
    "publications",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("campaign_id", String(200), nullable=False),
    Column("revision", String(128), nullable=False),
    Column("schedule_id", String(200)),
    Column("fire_time", UTCDateTime()),
    Column("channels", JSON(), nullable=False),
    Column("snapshot", Text()),  # the publication frozen as JSON (broadcaster.outbox.snapshot)
    Column("source", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("kind", String(16), nullable=False, server_default=PublicationKind.PUBLICATION.value),
    UniqueConstraint("schedule_id", "fire_time"),
    CheckConstraint("(schedule_id IS NULL) = (fire_time IS NULL)", name="firing"),
    CheckConstraint(_one_of("source", PublicationSource), name="source"),
    CheckConstraint(_one_of("status", PublicationStatus), name="status"),
)

schedule_firings = Table(
    "schedule_firings",
    metadata,
    Column("schedule_id", String(200), nullable=False),
    Column("fire_time", UTCDateTime(), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("publication_id", Id, ForeignKey("publications.id", ondelete="SET NULL")),
    Column("recorded_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("schedule_id", "fire_time"),
    CheckConstraint(_one_of("outcome", FiringOutcome), name="outcome"),
)

# The condition of ix_deliveries_channel_wide, as a literal: a query must say it in these
# very words (not as a bound parameter) for SQLite and PostgreSQL to use that index.
CHANNEL_WIDE = text("recipient = ''")
# The condition of ix_deliveries_claim_one, likewise: deliveries that go one by one.
ONE_BY_ONE = text("NOT batch")

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column(
        "publication_id",
        Id,
        ForeignKey("publications.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("channel", String(100), nullable=False),
    Column("recipient", String(320), nullable=False),  # '' for website and feed
    Column("locale", String(16), nullable=False),
    Column("status", String(24), nullable=False),
    Column("attempts", Integer(), nullable=False),
    # Attempts made before the last replay: the retry policy counts only those after it.
    Column("attempt_base", Integer(), nullable=False, server_default="0"),
    # Set while the delivery may still go out (for `sending`: when its lease runs out);
    # NULL once it is final, so the claim index only holds live rows.
    Column("next_attempt_at", UTCDateTime()),
    Column("lease_owner", String(200)),
    Column("lease_expires_at", UTCDateTime()),
    Column("dedup_key", String(64), nullable=False),  # Message-ID / webhook-id across retries
    Column("receipt", Text()),
    Column("last_error", Text()),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    # Queued for a channel that takes batches (an email list, webhooks, feeds): claimed by
    # the batch loops; the others (website, radio, fan pages) go one by one.
    Column("batch", Boolean(), nullable=False, server_default=false()),
    UniqueConstraint("publication_id", "channel", "recipient"),
    CheckConstraint(_one_of("status", DeliveryStatus), name="status"),
    Index("ix_deliveries_claim", "next_attempt_at", "id"),
    # The one-by-one deliveries' due times on their own: the loops that claim them look
    # every poll interval, and must not walk past a queued fan-out each time. Partial, so
    # a fan-out's deliveries never enter it.
    Index(
        "ix_deliveries_claim_one",
        "next_attempt_at",
        "id",
        sqlite_where=ONE_BY_ONE,
        postgresql_where=ONE_BY_ONE,
    ),
    Index("ix_deliveries_lease_owner", "lease_owner"),
    Index("ix_deliveries_recipient", "recipient"),
    # The channel-wide deliveries (the website's and feeds', one per publication, recipient
    # '') among millions of email ones: what `serve` looks up on every rebuild and every two
    # seconds (outbox/content.py). Partial, so a fan-out's deliveries never enter it and the
    # claim queries (which filter by channel too) cannot pick it over ix_deliveries_claim.
    Index(
        "ix_deliveries_channel_wide",
        "channel",
        "publication_id",
        sqlite_where=CHANNEL_WIDE,
        postgresql_where=CHANNEL_WIDE,
    ),
)

delivery_attempts = Table(
    "delivery_attempts",
    metadata,
    Column(
        "delivery_id",
        Id,
        ForeignKey("deliveries.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("attempt", Integer(), nullable=False),
    Column("worker", String(200), nullable=False),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime()),
    Column("outcome", String(24)),  # NULL while in flight
    Column("error", Text()),
    PrimaryKeyConstraint("delivery_id", "attempt"),
    CheckConstraint(_one_of("outcome", AttemptOutcome), name="outcome"),
)

renditions = Table(
    "renditions",
    metadata,
    Column(
        "publication_id",
        Id,
        ForeignKey("publications.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("channel", String(100), nullable=False),
    Column("locale", String(16), nullable=False),
    Column("media_type", String(100), nullable=False),
    Column("body", LargeBinary(), nullable=False),  # what the channel sends, rendered once
    PrimaryKeyConstraint("publication_id", "channel", "locale"),
)

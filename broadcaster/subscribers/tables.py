"""The subscriber list's tables, on the store's shared metadata (migration 0002 creates them).

Erasing a subscriber deletes the row (its consents cascade) and keeps only a keyed hash of
the address in `suppressions`. `subscribers` uses SQLite AUTOINCREMENT so an erased
subscriber's id is never given to someone else: ids are what tokens and queued deliveries
carry. PostgreSQL sequences never reuse values anyway.
"""

from __future__ import annotations

import enum

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from broadcaster.store.schema import Id, metadata
from broadcaster.store.types import UTCDateTime
from broadcaster.subscribers.api import SubscriberStatus
from broadcaster.workspace.models import Frequency


class ConsentAction(enum.StrEnum):
    SUBSCRIBE = "subscribe"
    CONFIRM = "confirm"
    IMPORT = "import"
    PREFERENCES = "preferences"
    UNSUBSCRIBE = "unsubscribe"


class ConsentForm(enum.StrEnum):
    """Through what the subscriber (or staff, for imports) acted."""

    WEB = "web"
    JSON = "json"
    IMPORT = "import"
    CLI = "cli"
    ONE_CLICK = "one-click"
    MAILTO = "mailto"
    COMPLAINT = "complaint"


class SuppressionReason(enum.StrEnum):
    HARD_BOUNCE = "hard-bounce"
    SOFT_BOUNCES = "soft-bounces"  # the soft-bounce score reached its threshold
    COMPLAINT = "complaint"
    DELETED = "deleted"  # the subscriber erased their data
    MANUAL = "manual"


def _one_of(column: str, values: type[enum.StrEnum]) -> str:
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


subscribers = Table(
    "subscribers",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("email", String(320), nullable=False),  # normalised by email-validator
    Column("email_hash", String(64), nullable=False),  # as in suppressions: the lookup key
    Column("locale", String(16), nullable=False),
    Column("topics", JSON(), nullable=False),  # list of topic ids
    Column("frequency", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("confirmed_at", UTCDateTime()),
    Column("unsubscribed_at", UTCDateTime()),
    Column("last_digest_at", UTCDateTime()),
    Column("last_confirmation_sent_at", UTCDateTime()),  # NULL: none sent yet (imports)
    # When the double opt-in email is due, until it has been sent (the service's sweep).
    Column("confirmation_due_at", UTCDateTime()),
    Column("token_version", Integer(), nullable=False),
    Column("bounce_score", Integer(), nullable=False),
    Column("last_bounce_at", UTCDateTime()),
    UniqueConstraint("email"),
    UniqueConstraint("email_hash"),
    CheckConstraint(_one_of("status", SubscriberStatus), name="status"),
    CheckConstraint(_one_of("frequency", Frequency), name="frequency"),
    # recipients() pages through one (status, frequency) by id.
    Index("ix_subscribers_sendable", "status", "frequency", "id"),
    Index("ix_subscribers_confirmation_due", "confirmation_due_at"),
    sqlite_autoincrement=True,
)

consents = Table(
    "consents",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column(
        "subscriber_id",
        Id,
        ForeignKey("subscribers.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("action", String(16), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("ip", String(45)),
    Column("form", String(16), nullable=False),
    Column("wording_version", String(32)),  # the consent text shown; NULL for imports
    Column("note", Text()),
    CheckConstraint(_one_of("action", ConsentAction), name="action"),
    CheckConstraint(_one_of("form", ConsentForm), name="form"),
    Index("ix_consents_subscriber_id", "subscriber_id"),
)

suppressions = Table(
    "suppressions",
    metadata,
    # HMAC-SHA256(secret key, casefolded normalised address), hex: no address is kept.
    Column("email_hash", String(64), primary_key=True),
    Column("reason", String(16), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    CheckConstraint(_one_of("reason", SuppressionReason), name="reason"),
)

# Soft bounces already scored, so that reading the same bounce again (a message file
# processed twice, an MTA delivering a DSN to the receiver twice) does not count it again.
# Hashes only: the message's key (SHA-256 of its Message-ID, or of the whole message when
# it has none) and the address's keyed hash, as in `suppressions`.
counted_bounces = Table(
    "counted_bounces",
    metadata,
    Column("message_key", String(64), primary_key=True),
    Column("email_hash", String(64), primary_key=True),
    Column("counted_at", UTCDateTime(), nullable=False),
)

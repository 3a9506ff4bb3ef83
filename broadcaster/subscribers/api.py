"""The subscriber list's shapes and the store interface the web routes, mail and bounces use."""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from broadcaster.workspace.models import Frequency

TokenPurpose = Literal["confirm", "unsubscribe", "preferences"]
# The consent wording shown on the subscribe form; bump it when the wording changes.
CONSENT_WORDING_VERSION = "2026-11-1"


class SubscriberStatus(enum.StrEnum):
    PENDING = "pending"  # asked, not yet confirmed (double opt-in)
    CONFIRMED = "confirmed"
    UNSUBSCRIBED = "unsubscribed"


@dataclass(frozen=True)
class Subscriber:
    id: int
    email: str  # normalised (email-validator), lower-cased domain
    locale: str
    topics: tuple[str, ...]
    frequency: Frequency
    status: SubscriberStatus
    created_at: datetime
    confirmed_at: datetime | None
    unsubscribed_at: datetime | None
    last_digest_at: datetime | None
    token_version: int  # bumped to invalidate every token issued before


@dataclass(frozen=True)
class Recipient:
    """Who a message goes to, as the mail engine needs it."""

    id: int
    email: str
    locale: str
    token_version: int


@dataclass(frozen=True)
class SubscribeOutcome:
    """What a subscribe request did. The web answer must not depend on it (no enumeration)."""

    subscriber_id: int | None  # None when the address is suppressed
    send_confirmation: bool  # False when already confirmed or suppressed, or asked too recently


class SubscriberStore(Protocol):
    """Subscribers, consent records and suppressions, on SQLite or PostgreSQL."""

    async def request(
        self,
        email: str,
        *,
        locale: str,
        topics: Sequence[str],
        frequency: Frequency,
        ip: str | None,
        form: str,
        wording_version: str = CONSENT_WORDING_VERSION,
    ) -> SubscribeOutcome:
        """Record a subscribe request (pending) and its consent record."""
        ...

    async def confirm(self, subscriber_id: int, *, ip: str | None) -> bool:
        """Confirm a pending subscriber; idempotent; False when unknown or deleted."""
        ...

    async def get(self, subscriber_id: int) -> Subscriber | None: ...

    async def update_preferences(
        self,
        subscriber_id: int,
        *,
        topics: Sequence[str],
        locale: str,
        frequency: Frequency,
        ip: str | None,
    ) -> bool: ...

    async def unsubscribe(self, subscriber_id: int, *, ip: str | None, how: str) -> bool:
        """Stop all mail to this subscriber; idempotent. Queued deliveries are cancelled too."""
        ...

    async def export_data(self, subscriber_id: int) -> dict[str, Any] | None:
        """Everything kept about the subscriber (JSON-ready), for "download my data"."""
        ...

    async def delete(self, subscriber_id: int) -> bool:
        """Erase personal data; keep only a keyed hash of the address as a suppression."""
        ...

    async def suppress(self, email: str, reason: str) -> None:
        """Never mail this address again (hard bounce, complaint, deletion)."""
        ...

    async def record_bounce(self, email: str, *, hard: bool, message: str = "") -> bool:
        """Score a bounce; returns True when the address is now suppressed. A soft bounce
        in the message with key `message` is scored once per address."""
        ...

    async def bounce_counted(self, message: str) -> bool:
        """Whether a soft bounce in the message with this key was scored already."""
        ...

    async def is_suppressed(self, email: str) -> bool: ...

    def recipients(
        self, topics: Sequence[str], frequency: Frequency, batch: int = 5000
    ) -> AsyncIterator[list[Recipient]]:
        """Confirmed, unsuppressed subscribers of any of `topics` with `frequency`, in batches."""
        ...

    async def sendable(self, ids: Sequence[int]) -> dict[int, Recipient]:
        """Of `ids`, those that may still be mailed now (checked right before sending)."""
        ...

    async def pending_recipient(self, subscriber_id: int) -> Recipient | None:
        """The subscriber, while a confirmation email may go out (pending, unsuppressed)."""
        ...

    async def confirmations_due(
        self, batch: int = 1000, due_by: datetime | None = None
    ) -> list[Recipient]:
        """Pending subscribers whose confirmation email is due (by `due_by`, default now)."""
        ...

    async def mark_confirmation_sent(self, ids: Sequence[int]) -> None:
        """The confirmation emails of `ids` went out now; none is due any more."""
        ...

    async def postpone_confirmation(self, ids: Sequence[int], until: datetime | None) -> None:
        """Send the confirmation emails of `ids` at `until` instead; None: not at all."""
        ...


class Tokens(Protocol):
    """HMAC-signed tokens scoped to one subscriber and one purpose."""

    def make(self, purpose: TokenPurpose, subscriber_id: int, version: int) -> str: ...

    def read(
        self, token: str, purpose: TokenPurpose, max_age: float | None = None
    ) -> tuple[int, int] | None:
        """(subscriber_id, version) when the token is genuine, for this purpose, not too old."""
        ...

"""What digests read from the store: recent publications, and digest subscribers' state.

Who may be mailed is the subscriber store's answer (`recipients`: confirmed, not
suppressed); this module only adds each one's topics and digest times, and moves
`last_digest_at` forward.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncEngine

from broadcaster.outbox.views import OutboxViews
from broadcaster.publishing.digests.snapshot import DIGEST_CAMPAIGN_PREFIX, PublishedRow
from broadcaster.subscribers.api import SubscriberStore
from broadcaster.subscribers.digest_state import advance_last_digest, digest_states
from broadcaster.workspace.models import Frequency


async def published_between(
    outbox: OutboxViews, after: datetime, until: datetime
) -> list[PublishedRow]:
    """Campaign publications created in (after, until], oldest first (digests excluded)."""
    rows = await outbox.published_between(after, until, excluding_prefix=DIGEST_CAMPAIGN_PREFIX)
    return [
        PublishedRow(row.id, row.campaign_id, tuple(row.channels), row.created_at, row.snapshot)
        for row in rows
    ]


async def previous_digest(
    outbox: OutboxViews, schedule_id: str, before: datetime
) -> datetime | None:
    """The fire time of the schedule's latest digest publication before `before`."""
    return await outbox.fire_time_before(schedule_id, before)


@dataclass(frozen=True)
class Member:
    """A digest subscriber: who, in which language, which topics, and since when."""

    id: int
    locale: str
    topics: frozenset[str]
    last_digest_at: datetime | None
    confirmed_at: datetime | None


class DigestAudience(Protocol):
    """The subscribers a digest goes to, and the record of what they have had."""

    def members(
        self, topics: Sequence[str], frequency: Frequency, batch: int = 5000
    ) -> AsyncIterator[list[Member]]:
        """Mailable subscribers of any of `topics` with `frequency`, in batches."""
        ...

    async def advance(self, ids: Sequence[int], to: datetime) -> None:
        """Record that these subscribers have had everything created up to `to`."""
        ...


class StoreAudience:
    """The digest audience the subscriber store keeps."""

    def __init__(self, store: SubscriberStore, engine: AsyncEngine) -> None:
        self.store = store
        self.engine = engine

    async def members(
        self, topics: Sequence[str], frequency: Frequency, batch: int = 5000
    ) -> AsyncIterator[list[Member]]:
        async for recipients in self.store.recipients(topics, frequency, batch):
            state = await digest_states(self.engine, [r.id for r in recipients])
            yield [
                Member(
                    id=r.id,
                    locale=r.locale,
                    topics=state[r.id].topics,
                    last_digest_at=state[r.id].last_digest_at,
                    confirmed_at=state[r.id].confirmed_at,
                )
                for r in recipients
                if r.id in state  # erased between the two reads
            ]

    async def advance(self, ids: Sequence[int], to: datetime) -> None:
        await advance_last_digest(self.engine, ids, to)

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

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from broadcaster.outbox.tables import publications
from broadcaster.publishing.digests.snapshot import DIGEST_CAMPAIGN_PREFIX, PublishedRow
from broadcaster.store.engine import write_transaction
from broadcaster.subscribers.api import SubscriberStore
from broadcaster.subscribers.tables import subscribers
from broadcaster.workspace.models import Frequency

ID_CHUNK = 5000  # ids per statement, well under every driver's parameter limit


async def published_between(
    engine: AsyncEngine, after: datetime, until: datetime
) -> list[PublishedRow]:
    """Campaign publications created in (after, until], oldest first (digests excluded)."""
    p = publications.c
    query = (
        select(p.id, p.campaign_id, p.channels, p.created_at, p.snapshot)
        .where(
            p.created_at > after,
            p.created_at <= until,
            p.snapshot.is_not(None),
            ~p.campaign_id.startswith(DIGEST_CAMPAIGN_PREFIX, autoescape=True),
        )
        .order_by(p.created_at, p.id)
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return [
        PublishedRow(row.id, row.campaign_id, tuple(row.channels), row.created_at, row.snapshot)
        for row in rows
    ]


async def previous_digest(
    engine: AsyncEngine, schedule_id: str, before: datetime
) -> datetime | None:
    """The fire time of the schedule's latest digest publication before `before`."""
    p = publications.c
    query = select(func.max(p.fire_time)).where(p.schedule_id == schedule_id, p.fire_time < before)
    async with engine.connect() as conn:
        latest: datetime | None = (await conn.execute(query)).scalar_one()
    return latest


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
    """The digest audience on the subscriber store's tables."""

    def __init__(self, store: SubscriberStore, engine: AsyncEngine) -> None:
        self.store = store
        self.engine = engine

    async def members(
        self, topics: Sequence[str], frequency: Frequency, batch: int = 5000
    ) -> AsyncIterator[list[Member]]:
        s = subscribers.c
        async for recipients in self.store.recipients(topics, frequency, batch):
            ids = [r.id for r in recipients]
            query = select(s.id, s.topics, s.last_digest_at, s.confirmed_at).where(s.id.in_(ids))
            async with self.engine.connect() as conn:
                state = {row.id: row for row in await conn.execute(query)}
            yield [
                Member(
                    id=r.id,
                    locale=r.locale,
                    topics=frozenset(state[r.id].topics),
                    last_digest_at=state[r.id].last_digest_at,
                    confirmed_at=state[r.id].confirmed_at,
                )
                for r in recipients
                if r.id in state  # erased between the two reads
            ]

    async def advance(self, ids: Sequence[int], to: datetime) -> None:
        s = subscribers.c
        for start in range(0, len(ids), ID_CHUNK):
            chunk = list(ids[start : start + ID_CHUNK])
            statement = (
                update(subscribers)
                .where(
                    and_(
                        s.id.in_(chunk),
                        # Never backwards: a late catch-up must not undo a newer digest.
                        or_(s.last_digest_at.is_(None), s.last_digest_at < to),
                    )
                )
                .values(last_digest_at=to)
            )
            async with write_transaction(self.engine) as conn:
                await conn.execute(statement)

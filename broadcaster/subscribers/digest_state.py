"""What digests keep per subscriber: their topics, when they confirmed, and when they last
had a digest (moved forward by the digest firer, never back)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from broadcaster.store.engine import write_transaction
from broadcaster.subscribers.tables import subscribers

ID_CHUNK = 5000  # ids per statement, well under every driver's parameter limit

s = subscribers.c


@dataclass(frozen=True)
class DigestState:
    """One subscriber's topics and digest times."""

    topics: frozenset[str]
    last_digest_at: datetime | None
    confirmed_at: datetime | None


async def digest_states(engine: AsyncEngine, ids: Sequence[int]) -> dict[int, DigestState]:
    """The digest state of each of `ids` still in the store, by id."""
    query = select(s.id, s.topics, s.last_digest_at, s.confirmed_at).where(s.id.in_(ids))
    async with engine.connect() as conn:
        return {
            row.id: DigestState(frozenset(row.topics), row.last_digest_at, row.confirmed_at)
            for row in await conn.execute(query)
        }


async def advance_last_digest(engine: AsyncEngine, ids: Sequence[int], to: datetime) -> None:
    """Record that these subscribers have had everything created up to `to`."""
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
        async with write_transaction(engine) as conn:
            await conn.execute(statement)

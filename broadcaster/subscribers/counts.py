"""Confirmed subscribers counted by topic, language and frequency: aggregates only, so no
address ever leaves the subscriber store this way."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from broadcaster.store.types import parse_utc_hour, utc_hour
from broadcaster.subscribers.api import SubscriberStatus
from broadcaster.subscribers.tables import subscribers


async def confirmed_counts(engine: AsyncEngine) -> dict[str, dict[str, int]]:
    """Confirmed subscribers in total and by topic, language and frequency."""
    s = subscribers.c
    query = select(s.topics, s.locale, s.frequency).where(s.status == SubscriberStatus.CONFIRMED)
    topics: Counter[str] = Counter()
    locales: Counter[str] = Counter()
    frequencies: Counter[str] = Counter()
    total = 0
    async with engine.connect() as conn:
        result = await conn.stream(query.execution_options(yield_per=5000))
        async for row in result:
            total += 1
            topics.update(row.topics or [])
            locales[row.locale] += 1
            frequencies[row.frequency] += 1
    return {
        "total": {"confirmed": total},
        "topic": dict(sorted(topics.items())),
        "language": dict(sorted(locales.items())),
        "frequency": dict(sorted(frequencies.items())),
    }


async def changes_per_hour(
    engine: AsyncEngine, since: datetime
) -> dict[str, list[tuple[datetime, int]]]:
    """Confirmations ("confirmed") and unsubscribes ("unsubscribed") per UTC hour since
    `since`: counts only."""
    s = subscribers.c
    found: dict[str, list[tuple[datetime, int]]] = {}
    async with engine.connect() as conn:
        for name, column in (("confirmed", s.confirmed_at), ("unsubscribed", s.unsubscribed_at)):
            hour = utc_hour(column, engine.dialect.name).label("hour")
            query = (
                select(hour, func.count().label("n"))
                .where(column.is_not(None), column >= since)
                .group_by(hour)
            )
            rows = (await conn.execute(query)).all()
            found[name] = [(parse_utc_hour(r.hour), int(r.n)) for r in rows]
    return found

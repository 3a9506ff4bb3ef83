"""Confirmed subscribers counted by topic, language and frequency: aggregates only, so no
address ever leaves the subscriber store this way."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

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

"""Deliveries over time: how many went out per channel and hour (for the dashboard chart)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from broadcaster.outbox.tables import DeliveryStatus, deliveries
from broadcaster.store.types import parse_utc_hour, utc_hour


async def delivered_per_hour(
    engine: AsyncEngine, since: datetime
) -> list[tuple[str, datetime, int]]:
    """(channel, start of the UTC hour, deliveries delivered in it) since `since`."""
    d = deliveries.c
    hour = utc_hour(d.updated_at, engine.dialect.name).label("hour")
    query = (
        select(d.channel, hour, func.count().label("n"))
        .where(d.status == DeliveryStatus.DELIVERED, d.updated_at >= since)
        .group_by(d.channel, hour)
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return [(row.channel, parse_utc_hour(row.hour), int(row.n)) for row in rows]

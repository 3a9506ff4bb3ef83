"""What a publication carries: its snapshot and the renditions each channel sends."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from ..channels.base import Rendition
from .engine import insert_or_ignore, write_transaction
from .tables import DeliveryStatus, deliveries, publications, renditions


class ContentStore:
    """Snapshots and renditions, read by workers and by the site and feed builders."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def save_renditions(self, publication_id: int, items: Iterable[Rendition]) -> None:
        """Store each (channel, locale) rendition once; saving again changes nothing."""
        rows = [
            {
                "publication_id": publication_id,
                "channel": r.channel,
                "locale": r.locale,
                "media_type": r.media_type,
                "body": r.body,
            }
            for r in items
        ]
        if not rows:
            return
        async with write_transaction(self._engine) as conn:
            statement = insert_or_ignore(
                conn.dialect, renditions, "publication_id", "channel", "locale"
            )
            await conn.execute(statement, rows)

    async def rendition(self, publication_id: int, channel: str, locale: str) -> bytes | None:
        """The bytes rendered for (publication, channel, locale), or None."""
        r = renditions.c
        query = select(r.body).where(
            r.publication_id == publication_id, r.channel == channel, r.locale == locale
        )
        async with self._engine.connect() as conn:
            body = (await conn.execute(query)).scalar_one_or_none()
        return bytes(body) if body is not None else None

    async def snapshot(self, publication_id: int) -> str | None:
        """The publication's snapshot JSON (see broadcaster.snapshot)."""
        query = select(publications.c.snapshot).where(publications.c.id == publication_id)
        async with self._engine.connect() as conn:
            result: str | None = (await conn.execute(query)).scalar_one_or_none()
        return result

    async def latest_snapshots(self, channel: str) -> list[str]:
        """For each campaign, the snapshot of its newest publication on `channel`."""
        d, p = deliveries.c, publications.c
        newest = (
            select(func.max(p.id).label("id"))
            .select_from(publications.join(deliveries, d.publication_id == p.id))
            .where(d.channel == channel, d.status != DeliveryStatus.CANCELLED)
            .group_by(p.campaign_id)
            .subquery()
        )
        query = (
            select(p.snapshot)
            .where(p.id.in_(select(newest.c.id)), p.snapshot.is_not(None))
            .order_by(p.campaign_id)
        )
        async with self._engine.connect() as conn:
            return [row[0] for row in await conn.execute(query)]

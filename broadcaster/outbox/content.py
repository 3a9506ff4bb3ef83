"""What a publication carries: its snapshot and the renditions each channel sends."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence

from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from broadcaster.outbox.jobs import Rendition
from broadcaster.outbox.tables import (
    CHANNEL_WIDE,
    DeliveryStatus,
    PublicationKind,
    deliveries,
    publications,
    renditions,
)
from broadcaster.store.engine import insert_or_ignore, write_transaction


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
        """The publication's snapshot JSON (see broadcaster.outbox.snapshot)."""
        query = select(publications.c.snapshot).where(publications.c.id == publication_id)
        async with self._engine.connect() as conn:
            result: str | None = (await conn.execute(query)).scalar_one_or_none()
        return result

    async def latest_snapshot_ids_by_channel(
        self, channels: Collection[str]
    ) -> dict[str, list[int]]:
        """For each channel-wide channel in `channels` (the website and feeds: one delivery
        per publication, recipient '') and each campaign, its newest publication on that
        channel with a snapshot, by id (ordered by campaign), in one query.

        Snapshots never change, so a reader that keeps what it parsed by id only needs
        `snapshots()` of the ids it has not seen (see `broadcaster.site.sources`).
        """
        d, p = deliveries.c, publications.c
        newest = (
            select(d.channel.label("channel"), func.max(p.id).label("id"))
            .select_from(publications.join(deliveries, d.publication_id == p.id))
            .where(
                d.channel.in_(sorted(channels)),
                CHANNEL_WIDE,  # through ix_deliveries_channel_wide
                d.status != DeliveryStatus.CANCELLED,
            )
            .group_by(d.channel, p.campaign_id)
            .subquery()
        )
        query = (
            select(newest.c.channel, p.id)
            .join_from(newest, publications, p.id == newest.c.id)
            .where(p.snapshot.is_not(None))
            .order_by(newest.c.channel, p.campaign_id)
        )
        found: dict[str, list[int]] = {channel: [] for channel in channels}
        async with self._engine.connect() as conn:
            for channel, publication_id in await conn.execute(query):
                found[channel].append(int(publication_id))
        return found

    async def snapshots(self, ids: Collection[int]) -> dict[int, str]:
        """The snapshot JSON of each publication in `ids` that has one."""
        p = publications.c
        wanted = sorted(ids)
        found: dict[int, str] = {}
        async with self._engine.connect() as conn:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                query = select(p.id, p.snapshot).where(p.id.in_(chunk), p.snapshot.is_not(None))
                found.update({int(row[0]): row[1] for row in await conn.execute(query)})
        return found

    async def last_snapshot(self, campaign_id: str, channels: Sequence[str] | None) -> str | None:
        """The snapshot of the campaign's newest publication with a delivery on `channels`
        (None: its newest publication, whatever it was queued for)."""
        d, p = deliveries.c, publications.c
        query = (
            select(p.snapshot)
            .where(
                p.campaign_id == campaign_id,
                p.kind == PublicationKind.PUBLICATION,
                p.snapshot.is_not(None),
            )
            .order_by(p.id.desc())
            .limit(1)
        )
        if channels is not None:
            query = query.where(
                exists().where(d.publication_id == p.id, d.channel.in_(list(channels)))
            )
        async with self._engine.connect() as conn:
            result: str | None = (await conn.execute(query)).scalar_one_or_none()
        return result

    async def releases(self, channels: Sequence[str], limit: int = 200) -> list[tuple[int, str]]:
        """(id, snapshot) of the newest `limit` publications with a delivery on `channels`
        that was not cancelled (the press desk's releases), newest first."""
        d, p = deliveries.c, publications.c
        went_out = exists().where(
            d.publication_id == p.id,
            d.channel.in_(list(channels)),
            d.status != DeliveryStatus.CANCELLED,
        )
        query = (
            select(p.id, p.snapshot)
            .where(p.kind == PublicationKind.PUBLICATION, p.snapshot.is_not(None), went_out)
            .order_by(p.id.desc())
            .limit(limit)
        )
        async with self._engine.connect() as conn:
            return [(int(row[0]), row[1]) for row in await conn.execute(query)]

    async def delivered_state(self, channels: Sequence[str]) -> tuple[int, int | None]:
        """How many channel-wide deliveries (recipient '': the website's and feeds') on
        `channels` went out, and the newest of them: changes when one more goes out, also one
        of an older publication delivered after a retry."""
        d = deliveries.c
        # Per channel, through ix_deliveries_channel_wide: a bare max(id) lets PostgreSQL
        # walk the primary key backwards past every newer email delivery instead.
        query = (
            select(func.count(), func.max(d.id))
            .where(
                d.channel.in_(list(channels)),
                CHANNEL_WIDE,
                d.status == DeliveryStatus.DELIVERED,
            )
            .group_by(d.channel)
        )
        async with self._engine.connect() as conn:
            rows = [(int(count), int(newest)) for count, newest in await conn.execute(query)]
        return sum(count for count, _ in rows), max((newest for _, newest in rows), default=None)

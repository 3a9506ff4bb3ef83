"""What other wings may read of the outbox: publications, progress, attempts, dead letters.

Only the outbox touches its tables; the admin pages, the CLI, digests and partners ask
these read-only views instead. `Outbox` has them all; a caller that only reads can open
an `OutboxViews` on the engine.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql import Executable

from broadcaster.outbox.records import (
    AnyRow,
    Attempt,
    Delivery,
    Progress,
    PublicationRecord,
    load_attempts,
    load_delivery,
    load_progress,
    load_publications,
)
from broadcaster.outbox.requeue import FAILED
from broadcaster.outbox.tables import (
    DeliveryStatus,
    PublicationKind,
    PublicationStatus,
    deliveries,
    delivery_attempts,
    publications,
)

# Finished at least once: what a partner's "last delivery" is.
FINISHED = (DeliveryStatus.DELIVERED, DeliveryStatus.TEMPORARY_FAILURE, *FAILED)

d, a, p = deliveries.c, delivery_attempts.c, publications.c


class OutboxViews:
    """Read-only questions about publications and their deliveries."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def _rows(self, query: Executable) -> list[AnyRow]:
        async with self._engine.connect() as conn:
            return list((await conn.execute(query)).all())

    async def publications(
        self, limit: int = 50, status: PublicationStatus | None = None
    ) -> list[PublicationRecord]:
        """The newest publications, optionally only those with `status`."""
        async with self._engine.connect() as conn:
            return await load_publications(conn, limit, status)

    async def unfinished_publications(self, limit: int = 1000) -> list[PublicationRecord]:
        """Publications whose deliveries are not all enqueued yet (a crash), oldest first."""
        async with self._engine.connect() as conn:
            return await load_publications(
                conn, limit, PublicationStatus.CREATED, oldest_first=True
            )

    async def progress(self, publication_id: int) -> Progress:
        """Per channel, how many deliveries of a publication are in each status."""
        async with self._engine.connect() as conn:
            return await load_progress(conn, publication_id)

    async def delivery(self, delivery_id: int) -> Delivery | None:
        """One delivery, or None."""
        async with self._engine.connect() as conn:
            return await load_delivery(conn, delivery_id)

    async def attempts(self, delivery_id: int) -> list[Attempt]:
        """Every attempt at a delivery, oldest first, with its outcome and error."""
        async with self._engine.connect() as conn:
            return await load_attempts(conn, delivery_id)

    async def attempt_log(self, publication_id: int, limit: int = 200) -> list[AnyRow]:
        """The newest attempts at a publication's deliveries: rows of id, channel,
        recipient, status, attempt, outcome, error, started_at."""
        query = (
            select(
                d.id, d.channel, d.recipient, d.status, a.attempt, a.outcome, a.error, a.started_at
            )
            .join(delivery_attempts, a.delivery_id == d.id)
            .where(d.publication_id == publication_id)
            .order_by(a.started_at.desc(), d.id.desc())
            .limit(limit)
        )
        return await self._rows(query)

    async def dead_letters(
        self,
        publication_id: int,
        channels: Collection[str] | None = None,
        limit: int | None = None,
    ) -> list[AnyRow]:
        """A publication's deliveries (on `channels`, when given) that failed for good:
        rows of id, channel, recipient, status, attempts, last_error, oldest first."""
        query = (
            select(d.id, d.channel, d.recipient, d.status, d.attempts, d.last_error)
            .where(d.publication_id == publication_id, d.status.in_(FAILED))
            .order_by(d.id)
            .limit(limit)
        )
        if channels is not None:
            query = query.where(d.channel.in_(sorted(channels)))
        return await self._rows(query)

    async def count_by_channel_and_status(self) -> dict[tuple[str, str], int]:
        """How many deliveries there are, by (channel, status)."""
        query = select(d.channel, d.status, func.count()).group_by(d.channel, d.status)
        return {(row[0], row[1]): int(row[2]) for row in await self._rows(query)}

    async def latest_revisions(self, limit: int = 5000) -> dict[str, tuple[str, datetime]]:
        """Per campaign, the (revision, created_at) of its newest publication (among the
        newest `limit` publications; withdrawals left out)."""
        query = (
            select(p.campaign_id, p.revision, p.created_at)
            .where(p.kind == PublicationKind.PUBLICATION)
            .order_by(p.id.desc())
            .limit(limit)
        )
        latest: dict[str, tuple[str, datetime]] = {}
        for row in await self._rows(query):
            latest.setdefault(row.campaign_id, (row.revision, row.created_at))
        return latest

    async def newest_publication(self, campaign_id: str) -> AnyRow | None:
        """The campaign's newest publication or withdrawal: a row of id, kind, revision,
        created_at (None when it never went out)."""
        query = (
            select(p.id, p.kind, p.revision, p.created_at)
            .where(p.campaign_id == campaign_id)
            .order_by(p.id.desc())
            .limit(1)
        )
        rows = await self._rows(query)
        return rows[0] if rows else None

    async def campaign_publications(self, campaign_ids: Collection[str]) -> list[AnyRow]:
        """Every publication and withdrawal of these campaigns that has a snapshot, oldest
        first: rows of id, campaign_id, kind, revision, created_at, snapshot."""
        query = (
            select(p.id, p.campaign_id, p.kind, p.revision, p.created_at, p.snapshot)
            .where(p.campaign_id.in_(sorted(campaign_ids)), p.snapshot.is_not(None))
            .order_by(p.id)
        )
        return await self._rows(query) if campaign_ids else []

    async def published_between(
        self, after: datetime, until: datetime, excluding_prefix: str
    ) -> list[AnyRow]:
        """Publications with a snapshot created in (after, until], oldest first, except
        campaigns named with `excluding_prefix`: rows of id, campaign_id, channels,
        created_at, snapshot."""
        query = (
            select(p.id, p.campaign_id, p.channels, p.created_at, p.snapshot)
            .where(
                p.created_at > after,
                p.created_at <= until,
                p.snapshot.is_not(None),
                ~p.campaign_id.startswith(excluding_prefix, autoescape=True),
            )
            .order_by(p.created_at, p.id)
        )
        return await self._rows(query)

    async def fire_time_before(self, schedule_id: str, before: datetime) -> datetime | None:
        """The fire time of the schedule's latest publication before `before`."""
        query = select(func.max(p.fire_time)).where(
            p.schedule_id == schedule_id, p.fire_time < before
        )
        async with self._engine.connect() as conn:
            latest: datetime | None = (await conn.execute(query)).scalar_one()
        return latest

    async def fired_publication(self, schedule_id: str, fire_time: datetime) -> int | None:
        """The publication that firing of the schedule created, if one did."""
        query = select(p.id).where(p.schedule_id == schedule_id, p.fire_time == fire_time)
        async with self._engine.connect() as conn:
            found: int | None = (await conn.execute(query)).scalar_one_or_none()
        return found

    async def deliveries_to(self, recipient_prefix: str, limit: int | None) -> list[AnyRow]:
        """Deliveries whose recipient starts with `recipient_prefix` (a partner's), newest
        first: rows of id, publication_id, campaign_id, locale, status, attempts,
        updated_at, last_error."""
        query = (
            select(
                d.id,
                d.publication_id,
                p.campaign_id,
                d.locale,
                d.status,
                d.attempts,
                d.updated_at,
                d.last_error,
            )
            .join_from(deliveries, publications, d.publication_id == p.id)
            .where(d.recipient.like(f"{recipient_prefix}%"))
            .order_by(d.id.desc())
            .limit(limit)
        )
        return await self._rows(query)

    async def campaign_history(
        self, channel: str, recipients: Sequence[str], campaigns: Sequence[str]
    ) -> list[AnyRow]:
        """Every delivery on `channel` to `recipients` of `campaigns`: rows of id,
        recipient, campaign_id, kind, status, next_attempt_at."""
        query = (
            select(d.id, d.recipient, p.campaign_id, p.kind, d.status, d.next_attempt_at)
            .join_from(deliveries, publications, d.publication_id == p.id)
            .where(d.channel == channel, d.recipient.in_(recipients), p.campaign_id.in_(campaigns))
        )
        return await self._rows(query)

    async def campaign_deliveries(
        self, channel: str, campaign_id: str, before: int | None = None
    ) -> list[AnyRow]:
        """A campaign's deliveries on `channel` (of publications older than `before`, when
        given), oldest first: rows of id, recipient, locale, status, attempts, kind."""
        query = (
            select(d.id, d.recipient, d.locale, d.status, d.attempts, p.kind)
            .join_from(deliveries, publications, d.publication_id == p.id)
            .where(d.channel == channel, p.campaign_id == campaign_id)
            .order_by(d.id)
        )
        if before is not None:
            query = query.where(p.id < before)
        return await self._rows(query)

    async def recipient_summary(
        self, channels: Sequence[str], since: datetime
    ) -> tuple[list[AnyRow], list[AnyRow]]:
        """On `channels`: per recipient, how many deliveries updated since `since` are in
        each status (rows of recipient, status, count); and each recipient's newest
        finished delivery (rows of recipient, status, updated_at, last_error)."""
        week = (
            select(d.recipient, d.status, func.count())
            .where(d.channel.in_(list(channels)), d.updated_at >= since)
            .group_by(d.recipient, d.status)
        )
        newest = (
            select(func.max(d.id))
            .where(d.channel.in_(list(channels)), d.status.in_(FINISHED))
            .group_by(d.recipient)
        )
        last = select(d.recipient, d.status, d.updated_at, d.last_error).where(d.id.in_(newest))
        async with self._engine.connect() as conn:
            counts = (await conn.execute(week)).all()
            lasts = (await conn.execute(last)).all()
        return list(counts), list(lasts)

"""Queries that record publications, schedule firings and the deliveries they expand into."""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from broadcaster.outbox.tables import (
    DeliveryStatus,
    FiringOutcome,
    PublicationKind,
    PublicationSource,
    PublicationStatus,
    deliveries,
    publications,
    schedule_firings,
)
from broadcaster.store.engine import insert_or_ignore


def dedup_key(publication_id: int, channel: str, recipient: str) -> str:
    """The key one delivery keeps across retries (for Message-ID and webhook-id)."""
    digest = hashlib.sha256(f"{publication_id}\x1f{channel}\x1f{recipient}".encode())
    return digest.hexdigest()[:32]


async def insert_publication(
    conn: AsyncConnection,
    *,
    campaign_id: str,
    revision: str,
    channels: Sequence[str],
    source: PublicationSource,
    schedule_id: str | None,
    fire_time: datetime | None,
    snapshot: str | None,
    now: datetime,
    kind: PublicationKind = PublicationKind.PUBLICATION,
) -> int | None:
    """Insert a publication; None when that (schedule_id, fire_time) already has one."""
    p = publications
    statement = insert_or_ignore(conn.dialect, p, "schedule_id", "fire_time").returning(p.c.id)
    result = await conn.execute(
        statement,
        {
            "campaign_id": campaign_id,
            "revision": revision,
            "schedule_id": schedule_id,
            "fire_time": fire_time,
            "channels": list(channels),
            "snapshot": snapshot,
            "source": source,
            "status": PublicationStatus.CREATED,
            "created_at": now,
            "kind": kind,
        },
    )
    publication_id: int | None = result.scalar_one_or_none()
    return publication_id


async def find_publication(conn: AsyncConnection, schedule_id: str, fire_time: datetime) -> int:
    """The id of the publication a schedule firing created."""
    p = publications
    query = select(p.c.id).where(p.c.schedule_id == schedule_id, p.c.fire_time == fire_time)
    publication_id: int = (await conn.execute(query)).scalar_one()
    return publication_id


async def publication_exists(conn: AsyncConnection, publication_id: int) -> bool:
    """Whether a publication with this id exists."""
    query = select(publications.c.id).where(publications.c.id == publication_id)
    return (await conn.execute(query)).first() is not None


async def mark_enqueued(conn: AsyncConnection, publication_id: int) -> None:
    """Note that a publication's deliveries are all in the outbox."""
    p = publications
    await conn.execute(
        update(p)
        .where(p.c.id == publication_id, p.c.status == PublicationStatus.CREATED)
        .values(status=PublicationStatus.ENQUEUED)
    )


async def insert_firing(
    conn: AsyncConnection,
    schedule_id: str,
    fire_time: datetime,
    outcome: FiringOutcome,
    publication_id: int | None,
    now: datetime,
) -> bool:
    """Record a schedule firing; False when that firing is already recorded."""
    f = schedule_firings
    statement = insert_or_ignore(conn.dialect, f, "schedule_id", "fire_time").returning(f.c.outcome)
    result = await conn.execute(
        statement,
        {
            "schedule_id": schedule_id,
            "fire_time": fire_time,
            "outcome": outcome,
            "publication_id": publication_id,
            "recorded_at": now,
        },
    )
    return result.first() is not None


async def latest_firing(conn: AsyncConnection, schedule_id: str) -> datetime | None:
    """The latest recorded firing time of a schedule, published or missed."""
    f = schedule_firings
    query = select(func.max(f.c.fire_time)).where(f.c.schedule_id == schedule_id)
    latest: datetime | None = (await conn.execute(query)).scalar_one()
    return latest


async def insert_deliveries(
    conn: AsyncConnection,
    publication_id: int,
    items: Sequence[tuple[str, str, str]],
    now: datetime,
    batched: Collection[str] = (),
) -> int:
    """Insert (channel, recipient, locale) deliveries, skipping existing ones; returns new.
    Those on `batched` channels (which take batches) are marked so."""
    d = deliveries
    statement = insert_or_ignore(
        conn.dialect, d, "publication_id", "channel", "recipient"
    ).returning(d.c.id)
    rows = [
        {
            "publication_id": publication_id,
            "channel": channel,
            "recipient": recipient,
            "locale": locale,
            "status": DeliveryStatus.CREATED,
            "attempts": 0,
            "next_attempt_at": now,
            "dedup_key": dedup_key(publication_id, channel, recipient),
            "created_at": now,
            "updated_at": now,
            "batch": channel in batched,
        }
        for channel, recipient, locale in items
    ]
    return len((await conn.execute(statement, rows)).all())

"""Read-only views of the outbox: what `status`, the admin UI and workers look at."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeAlias

from sqlalchemy import func, select
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from broadcaster.outbox.tables import (
    AttemptOutcome,
    DeliveryStatus,
    PublicationKind,
    PublicationSource,
    PublicationStatus,
    deliveries,
    delivery_attempts,
    publications,
)

# channel -> status -> number of deliveries
Progress: TypeAlias = dict[str, dict[DeliveryStatus, int]]
if TYPE_CHECKING:  # Row's type parameters differ between SQLAlchemy 2.0 and 2.1
    AnyRow: TypeAlias = Row[*tuple[Any, ...]]
else:
    AnyRow = Row


@dataclass(frozen=True)
class ClaimedDelivery:
    """A delivery leased to one worker until `lease_expires_at`."""

    id: int
    publication_id: int
    campaign_id: str
    revision: str
    channel: str
    recipient: str
    locale: str
    attempt: int  # 1 for the first try
    dedup_key: str
    lease_expires_at: datetime


@dataclass(frozen=True)
class PublicationRecord:
    id: int
    campaign_id: str
    revision: str
    schedule_id: str | None
    fire_time: datetime | None
    channels: tuple[str, ...]
    source: PublicationSource
    status: PublicationStatus
    created_at: datetime
    kind: PublicationKind = PublicationKind.PUBLICATION


@dataclass(frozen=True)
class Delivery:
    id: int
    publication_id: int
    channel: str
    recipient: str
    locale: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    lease_owner: str | None
    lease_expires_at: datetime | None
    dedup_key: str
    receipt: str | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Attempt:
    delivery_id: int
    attempt: int
    worker: str
    started_at: datetime
    finished_at: datetime | None
    outcome: AttemptOutcome | None  # None while in flight
    error: str | None


async def load_publications(
    connection: AsyncConnection,
    limit: int,
    status: PublicationStatus | None = None,
    oldest_first: bool = False,
) -> list[PublicationRecord]:
    """The newest (or oldest) `limit` publications, optionally only those with `status`."""
    p = publications
    columns = [column for column in p.c if column.name != "snapshot"]  # kept out: large
    order = p.c.id if oldest_first else p.c.id.desc()
    query = select(*columns).order_by(order).limit(limit)
    if status is not None:
        query = query.where(publications.c.status == status)
    return [_publication(row) for row in await connection.execute(query)]


async def load_delivery(connection: AsyncConnection, delivery_id: int) -> Delivery | None:
    """One delivery, or None."""
    row = (
        await connection.execute(select(deliveries).where(deliveries.c.id == delivery_id))
    ).first()
    return None if row is None else _delivery(row)


async def load_attempts(connection: AsyncConnection, delivery_id: int) -> list[Attempt]:
    """Every attempt at one delivery, oldest first."""
    a = delivery_attempts
    query = select(a).where(a.c.delivery_id == delivery_id).order_by(a.c.attempt)
    return [
        Attempt(
            delivery_id=row.delivery_id,
            attempt=row.attempt,
            worker=row.worker,
            started_at=row.started_at,
            finished_at=row.finished_at,
            outcome=None if row.outcome is None else AttemptOutcome(row.outcome),
            error=row.error,
        )
        for row in await connection.execute(query)
    ]


async def load_progress(connection: AsyncConnection, publication_id: int) -> Progress:
    """Per channel, how many of a publication's deliveries are in each status."""
    d = deliveries
    query = (
        select(d.c.channel, d.c.status, func.count())
        .where(d.c.publication_id == publication_id)
        .group_by(d.c.channel, d.c.status)
    )
    progress: defaultdict[str, dict[DeliveryStatus, int]] = defaultdict(dict)
    for channel, status, count in await connection.execute(query):
        progress[channel][DeliveryStatus(status)] = count
    return dict(progress)


def _publication(row: AnyRow) -> PublicationRecord:
    return PublicationRecord(
        id=row.id,
        campaign_id=row.campaign_id,
        revision=row.revision,
        schedule_id=row.schedule_id,
        fire_time=row.fire_time,
        channels=tuple(row.channels),
        source=PublicationSource(row.source),
        status=PublicationStatus(row.status),
        created_at=row.created_at,
        kind=PublicationKind(row.kind),
    )


def _delivery(row: AnyRow) -> Delivery:
    return Delivery(
        id=row.id,
        publication_id=row.publication_id,
        channel=row.channel,
        recipient=row.recipient,
        locale=row.locale,
        status=DeliveryStatus(row.status),
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        lease_owner=row.lease_owner,
        lease_expires_at=row.lease_expires_at,
        dedup_key=row.dedup_key,
        receipt=row.receipt,
        last_error=row.last_error,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )

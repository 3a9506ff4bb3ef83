"""Which event each webhook delivery carries, and whether it must wait for an earlier one.

A partner never receives `publication.updated` before `publication.created` of the same
campaign: a delivery waits while an earlier delivery of that campaign to the same partner
(and locale) is still queued, in flight or retrying. When it may go, its event type is
decided once and stored (`webhook_events`), so every retry and replay signs the same bytes:
`publication.created` unless that partner already got an event of the campaign delivered.
So when a `created` is dead-lettered, the next revision goes out as `created` instead.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from broadcaster.store.engine import insert_or_ignore, write_transaction
from broadcaster.store.records import AnyRow, ClaimedDelivery
from broadcaster.store.tables import DeliveryStatus, deliveries, publications

from .tables import EventType, webhook_events

PENDING = (DeliveryStatus.CREATED, DeliveryStatus.SENDING, DeliveryStatus.TEMPORARY_FAILURE)
# How soon a delivery waiting behind one in flight looks again.
IN_FLIGHT_WAIT = timedelta(seconds=1)


@dataclass(frozen=True)
class Waiting:
    """The delivery must wait for `blocker` (an earlier one of the same campaign)."""

    blocker: int
    until: datetime | None  # when the blocker is next due; None when it is in flight

    def wait(self, now: datetime) -> timedelta:
        """How long to put the delivery back for."""
        if self.until is None or self.until <= now:
            return IN_FLIGHT_WAIT
        return self.until - now + IN_FLIGHT_WAIT


async def event_types(
    engine: AsyncEngine, channel: str, jobs: Sequence[ClaimedDelivery]
) -> dict[int, EventType | Waiting]:
    """For each claimed delivery (by id): the event type it carries, or why it waits."""
    if not jobs:
        return {}
    d, p, e = deliveries, publications, webhook_events
    recipients = sorted({job.recipient for job in jobs})
    campaigns = sorted({job.campaign_id for job in jobs})
    ids = [job.id for job in jobs]
    same = (
        select(d.c.id, d.c.recipient, p.c.campaign_id, d.c.status, d.c.next_attempt_at)
        .join_from(d, p, d.c.publication_id == p.c.id)
        .where(
            d.c.channel == channel, d.c.recipient.in_(recipients), p.c.campaign_id.in_(campaigns)
        )
    )
    async with engine.connect() as conn:
        history = (await conn.execute(same)).all()
        frozen = {
            row.delivery_id: EventType(row.event_type)
            for row in await conn.execute(select(e).where(e.c.delivery_id.in_(ids)))
        }
    by_key: defaultdict[tuple[str, str], list[AnyRow]] = defaultdict(list)
    for row in history:
        by_key[row.recipient, row.campaign_id].append(row)
    result: dict[int, EventType | Waiting] = {}
    new_rows = []
    for job in jobs:
        related = by_key[job.recipient, job.campaign_id]
        earlier = [row for row in related if row.id < job.id and row.status in PENDING]
        if earlier:
            first = min(earlier, key=lambda row: row.id)
            in_flight = first.status == DeliveryStatus.SENDING
            result[job.id] = Waiting(first.id, None if in_flight else first.next_attempt_at)
            continue
        if job.id in frozen:
            result[job.id] = frozen[job.id]
            continue
        delivered = any(
            row.id != job.id and row.status == DeliveryStatus.DELIVERED for row in related
        )
        event = EventType.UPDATED if delivered else EventType.CREATED
        result[job.id] = event
        new_rows.append({"delivery_id": job.id, "event_type": event.value})
    if new_rows:
        async with write_transaction(engine) as conn:
            statement = insert_or_ignore(conn.dialect, e, "delivery_id")
            await conn.execute(statement, new_rows)
            # Another worker may have decided first (a lease taken over): its choice stands.
            stored = await conn.execute(
                select(e).where(e.c.delivery_id.in_([r["delivery_id"] for r in new_rows]))
            )
            for row in stored:
                result[row.delivery_id] = EventType(row.event_type)
    return result


async def freeze(engine: AsyncEngine, delivery_id: int, event: EventType) -> None:
    """Record the event type of a delivery created outside `event_types` (a withdrawal)."""
    async with write_transaction(engine) as conn:
        statement = insert_or_ignore(conn.dialect, webhook_events, "delivery_id")
        await conn.execute(statement, {"delivery_id": delivery_id, "event_type": event.value})

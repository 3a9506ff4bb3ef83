"""Which event each webhook delivery carries, and whether it must wait for an earlier one.

A partner never receives `publication.updated` before `publication.created` of the same
campaign: a delivery waits while an earlier delivery of that campaign to the same partner
(and locale) is still queued, in flight or retrying. When it may go, its event type is
decided once and stored (`webhook_events`), so every retry and replay signs the same bytes:
`publication.created` unless that partner already got an event of the campaign delivered.
So when a `created` is dead-lettered, the next revision goes out as `created` instead.
A delivery of a withdrawal publication is `publication.withdrawn`, after every earlier event
of the campaign to that partner; a campaign published again after its withdrawal starts
over with `publication.created`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from broadcaster.outbox.records import AnyRow, ClaimedDelivery
from broadcaster.outbox.tables import DeliveryStatus, PublicationKind
from broadcaster.outbox.views import OutboxViews
from broadcaster.partners.tables import EventType, webhook_events
from broadcaster.store.engine import insert_or_ignore, write_transaction

PENDING = (DeliveryStatus.CREATED, DeliveryStatus.SENDING, DeliveryStatus.TEMPORARY_FAILURE)
# How soon a delivery waiting behind one in flight looks again.
IN_FLIGHT_WAIT = timedelta(seconds=1)
ID_CHUNK = 1000  # ids per IN (...) list, well under every driver's parameter limit


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
    e = webhook_events
    recipients = sorted({job.recipient for job in jobs})
    campaigns = sorted({job.campaign_id for job in jobs})
    ids = [job.id for job in jobs]
    history = await OutboxViews(engine).campaign_history(channel, recipients, campaigns)
    async with engine.connect() as conn:
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
        event = _decide(job.id, related)
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


def _decide(delivery_id: int, related: Sequence[AnyRow]) -> EventType:
    """The event a delivery carries, from the partner's history with the campaign."""
    if any(row.id == delivery_id and row.kind == PublicationKind.WITHDRAWAL for row in related):
        return EventType.WITHDRAWN
    delivered = [row for row in related if row.status == DeliveryStatus.DELIVERED]
    withdrawn = [row.id for row in delivered if row.kind == PublicationKind.WITHDRAWAL]
    since = max(withdrawn, default=0)
    has_it = any(
        row.id != delivery_id and row.id > since and row.kind == PublicationKind.PUBLICATION
        for row in delivered
    )
    return EventType.UPDATED if has_it else EventType.CREATED


async def told_about(
    engine: AsyncEngine, channel: str, campaign_id: str, before: int | None = None
) -> list[tuple[str, str]]:
    """(recipient, locale) of every partner that was sent, was tried or is still queued an
    event of the campaign on `channel` since it was last withdrawn: who must hear of a
    withdrawal. Only publications older than `before` count, when given."""
    rows = await OutboxViews(engine).campaign_deliveries(channel, campaign_id, before)
    told: dict[tuple[str, str], bool] = {}
    for row in rows:
        key = (row.recipient, row.locale)
        if row.kind == PublicationKind.WITHDRAWAL:
            told.pop(key, None)  # told of the withdrawal (or will be): starts over
        elif row.status in (*PENDING, DeliveryStatus.DELIVERED) or row.attempts > 0:
            told[key] = True
    return list(told)


async def stored_event_types(engine: AsyncEngine, delivery_ids: Sequence[int]) -> dict[int, str]:
    """The event type decided for each of `delivery_ids` that has one (by delivery id)."""
    e = webhook_events.c
    found: dict[int, str] = {}
    async with engine.connect() as conn:
        for start in range(0, len(delivery_ids), ID_CHUNK):
            chunk = list(delivery_ids[start : start + ID_CHUNK])
            query = select(e.delivery_id, e.event_type).where(e.delivery_id.in_(chunk))
            found.update((row.delivery_id, row.event_type) for row in await conn.execute(query))
    return found

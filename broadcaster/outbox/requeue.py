"""Putting deliveries back in the queue: held ones not tried yet, finished ones replayed,
failed ones retried.

Each function runs inside the caller's write transaction (see `write_transaction`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Text, bindparam, case, delete, update
from sqlalchemy.ext.asyncio import AsyncConnection

from broadcaster.outbox.tables import DeliveryStatus, deliveries, delivery_attempts
from broadcaster.store.types import UTCDateTime

d, a = deliveries, delivery_attempts


async def defer_many(
    conn: AsyncConnection, worker_id: str, now: datetime, rows: Sequence[Mapping[str, Any]]
) -> None:
    """Hand held deliveries back untried, due again at `b_next`, the attempt not counted.

    Each row: b_id, b_attempt (the attempt being given back), b_next, b_error (why it
    waits). Like `release_leases`, but for one delivery at a time and with a time.
    """
    if not rows:
        return
    params = [{**row, "b_owner": worker_id, "b_now": now} for row in rows]
    await conn.execute(
        delete(a).where(
            a.c.delivery_id == bindparam("b_id"),
            a.c.attempt == bindparam("b_attempt"),
            a.c.finished_at.is_(None),
        ),
        params,
    )
    await conn.execute(
        update(d)
        .where(
            d.c.id == bindparam("b_id"),
            d.c.status == DeliveryStatus.SENDING,
            d.c.lease_owner == bindparam("b_owner"),
        )
        .values(
            status=case(
                (d.c.attempts <= 1, DeliveryStatus.CREATED.value),
                else_=DeliveryStatus.TEMPORARY_FAILURE.value,
            ),
            attempts=d.c.attempts - 1,
            next_attempt_at=bindparam("b_next", type_=UTCDateTime()),
            last_error=bindparam("b_error", type_=Text()),
            lease_owner=None,
            lease_expires_at=None,
            updated_at=bindparam("b_now", type_=UTCDateTime()),
        ),
        params,
    )


FINAL = (
    DeliveryStatus.DELIVERED,
    DeliveryStatus.PERMANENT_FAILURE,
    DeliveryStatus.TECHNICAL_FAILURE,
    DeliveryStatus.CANCELLED,
)

# Failed for good: gave up, rejected, or our own fault.
FAILED = (DeliveryStatus.PERMANENT_FAILURE, DeliveryStatus.TECHNICAL_FAILURE)


async def requeue(conn: AsyncConnection, delivery_id: int, now: datetime) -> bool:
    """Make a finished delivery due now, its retry count starting afresh (a replay)."""
    result = await conn.execute(
        update(d)
        .where(d.c.id == delivery_id, d.c.status.in_(FINAL))
        .values(
            status=DeliveryStatus.TEMPORARY_FAILURE,
            attempt_base=d.c.attempts,
            next_attempt_at=now,
            updated_at=now,
        )
    )
    return bool(result.rowcount)


async def requeue_failed(conn: AsyncConnection, publication_id: int, now: datetime) -> int:
    """Make a publication's permanently or technically failed deliveries due now."""
    result = await conn.execute(
        update(d)
        .where(d.c.publication_id == publication_id, d.c.status.in_(FAILED))
        .values(status=DeliveryStatus.CREATED, next_attempt_at=now, updated_at=now)
    )
    return int(result.rowcount or 0)

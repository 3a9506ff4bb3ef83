"""Queries that lease deliveries to workers and settle them, guarded by "still mine".

Each function runs inside the caller's write transaction (see `write_transaction`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Text,
    bindparam,
    case,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from broadcaster.outbox.records import AnyRow, ClaimedDelivery
from broadcaster.outbox.tables import (
    AttemptOutcome,
    DeliveryStatus,
    deliveries,
    delivery_attempts,
    publications,
)
from broadcaster.store.types import UTCDateTime

QUEUED = (DeliveryStatus.CREATED, DeliveryStatus.TEMPORARY_FAILURE)
IN_CHUNK = 1000  # ids per IN (...) list, well under PostgreSQL's parameter limit

d, a = deliveries, delivery_attempts


def due(now: datetime) -> ColumnElement[bool]:
    """Queued, or `sending` under a lease that has run out (its worker is gone)."""
    return or_(
        d.c.status.in_(QUEUED),
        (d.c.status == DeliveryStatus.SENDING) & (d.c.lease_expires_at <= now),
    )


async def any_due(
    conn: AsyncConnection,
    now: datetime,
    channels: Collection[str] | None,
    exclude: Collection[str] | None,
) -> bool:
    """Whether `claim_due` with these filters would find a delivery (a read, no lock)."""
    query = select(d.c.id).where(d.c.next_attempt_at <= now, due(now)).limit(1)
    if channels is not None:
        query = query.where(d.c.channel.in_(sorted(channels)))
    if exclude:
        query = query.where(d.c.channel.not_in(sorted(exclude)))
    return (await conn.execute(query)).first() is not None


def held(delivery_id: int, worker_id: str) -> tuple[ColumnElement[bool], ...]:
    """The delivery is `sending` under a lease owned by `worker_id`."""
    return (
        d.c.id == delivery_id,
        d.c.status == DeliveryStatus.SENDING,
        d.c.lease_owner == worker_id,
    )


async def claim_due(
    conn: AsyncConnection,
    *,
    worker_id: str,
    limit: int,
    now: datetime,
    lease_expires: datetime,
    channels: Collection[str] | None,
    max_attempts: Callable[[str], int],
    exclude: Collection[str] | None = None,
) -> list[ClaimedDelivery]:
    """Lease up to `limit` due deliveries, longest-waiting first (see `Outbox.claim`)."""
    query = (
        select(
            d.c.id,
            d.c.publication_id,
            publications.c.campaign_id,
            publications.c.revision,
            d.c.channel,
            d.c.recipient,
            d.c.locale,
            d.c.status,
            d.c.attempts,
            d.c.lease_owner,
            d.c.dedup_key,
            d.c.attempt_base,
        )
        .join_from(d, publications, d.c.publication_id == publications.c.id)
        # next_attempt_at first so the claim index is walked in order and stops at `limit`
        .where(d.c.next_attempt_at <= now, due(now))
        .order_by(d.c.next_attempt_at, d.c.id)
        .limit(limit)
        # lock only the deliveries: a lock on the shared publication row would make
        # every other claimer skip that publication's deliveries
        .with_for_update(of=d, skip_locked=True)
    )
    if channels is not None:
        query = query.where(d.c.channel.in_(sorted(channels)))
    if exclude:
        query = query.where(d.c.channel.not_in(sorted(exclude)))
    rows = (await conn.execute(query)).all()
    await close_abandoned(conn, rows, now)
    abandoned = [row for row in rows if row.status == DeliveryStatus.SENDING]
    exhausted = [
        row for row in abandoned if row.attempts - row.attempt_base >= max_attempts(row.channel)
    ]
    for row in exhausted:
        await _set(
            conn,
            [row.id],
            now,
            status=DeliveryStatus.TECHNICAL_FAILURE,
            last_error=f"gave up: the lease expired on all {row.attempts - row.attempt_base} "
            "attempts",
        )
    exhausted_ids = {row.id for row in exhausted}
    candidates = [row.id for row in rows if row.id not in exhausted_ids]
    if not candidates:
        return []
    # Re-checking "still due" makes a double claim impossible even without the row locks.
    taken = await conn.execute(
        update(d)
        .where(d.c.id.in_(candidates), d.c.next_attempt_at <= now, due(now))
        .values(
            status=DeliveryStatus.SENDING,
            lease_owner=worker_id,
            lease_expires_at=lease_expires,
            next_attempt_at=lease_expires,  # reclaimable once the lease runs out
            attempts=d.c.attempts + 1,
            updated_at=now,
        )
        .returning(d.c.id)
    )
    taken_ids = set(taken.scalars())
    claimed = [row for row in rows if row.id in taken_ids]
    if not claimed:
        return []
    attempt_rows = [
        {"delivery_id": r.id, "attempt": r.attempts + 1, "worker": worker_id, "started_at": now}
        for r in claimed
    ]
    await conn.execute(insert(a), attempt_rows)
    # Plain tuples: a Row's attribute lookups cost more than the rest of a large claim.
    return [
        ClaimedDelivery(
            id=row_id,
            publication_id=publication_id,
            campaign_id=campaign_id,
            revision=revision,
            channel=channel,
            recipient=recipient,
            locale=locale,
            attempt=attempts + 1,
            dedup_key=dedup_key,
            lease_expires_at=lease_expires,
        )
        for (
            row_id,
            publication_id,
            campaign_id,
            revision,
            channel,
            recipient,
            locale,
            _status,
            attempts,
            _owner,
            dedup_key,
            _base,
        ) in claimed
    ]


@dataclass(frozen=True)
class Held:
    """A delivery a worker still holds: its channel, attempts so far and since the last replay."""

    channel: str
    attempts: int
    counted: int  # attempts since the last replay: what the retry policy counts


async def held_attempts(conn: AsyncConnection, delivery_id: int, worker_id: str) -> Held | None:
    """The attempt counts of a delivery `worker_id` still holds (row locked), else None."""
    query = (
        select(d.c.channel, d.c.attempts, d.c.attempt_base)
        .where(*held(delivery_id, worker_id))
        .with_for_update()
    )
    row = (await conn.execute(query)).first()
    return None if row is None else Held(row.channel, row.attempts, row.attempts - row.attempt_base)


async def settle(
    conn: AsyncConnection,
    delivery_id: int,
    worker_id: str,
    now: datetime,
    outcome: AttemptOutcome,
    error: str | None,
    values: Mapping[str, Any],
) -> bool:
    """End the lease with `values` and close the attempt, only if `worker_id` holds it."""
    result = await conn.execute(
        update(d)
        .where(*held(delivery_id, worker_id))
        .values(lease_owner=None, lease_expires_at=None, updated_at=now, **values)
        .returning(d.c.attempts)
    )
    attempt = result.scalar_one_or_none()
    if attempt is None:
        return False
    await conn.execute(
        update(a)
        .where(a.c.delivery_id == delivery_id, a.c.attempt == attempt)
        .values(finished_at=now, outcome=outcome, error=error)
    )
    return True


@dataclass(frozen=True)
class Settlement:
    """One outcome for `Outbox.settle_many`: what `complete`, `retry_later`, `fail` or
    `withdraw` would record for that delivery."""

    delivery_id: int
    outcome: AttemptOutcome  # any but LEASE_EXPIRED
    detail: str | None = None  # the receipt when delivered, else the error or reason
    after: timedelta | None = None  # temporary failures: not before (Retry-After)
    # Not tried at all (it waits for an earlier delivery): the attempt is not counted.
    deferred: bool = False


def settled_row(
    s: Settlement,
    held_row: Held,
    now: datetime,
    max_attempts: int,
    backoff: Callable[[int, timedelta | None], timedelta],
) -> dict[str, Any]:
    """The `settle_many` parameters for one settlement (as the one-at-a-time methods do)."""
    outcome, detail = s.outcome, s.detail
    attempts, counted = held_row.attempts, held_row.counted
    row: dict[str, Any] = {
        "b_id": s.delivery_id,
        "b_attempt": attempts,
        "b_next": None,
        "b_receipt": None,
        "b_error": detail,
        "b_outcome": outcome.value,
        "b_attempt_error": detail,
    }
    if outcome is AttemptOutcome.DELIVERED:
        row.update(b_status=DeliveryStatus.DELIVERED.value, b_receipt=detail)
        row.update(b_error=None, b_attempt_error=None)
    elif outcome is AttemptOutcome.TEMPORARY_FAILURE:
        if counted >= max_attempts:
            row["b_status"] = DeliveryStatus.PERMANENT_FAILURE.value
            row["b_error"] = f"{detail} (gave up after {counted} attempts)"
        else:
            row["b_status"] = DeliveryStatus.TEMPORARY_FAILURE.value
            row["b_next"] = now + backoff(counted, s.after)
    elif outcome is AttemptOutcome.LEASE_EXPIRED:
        raise ValueError("lease-expired is recorded by claims, not reported by workers")
    else:  # permanent-failure, technical-failure, cancelled
        row["b_status"] = DeliveryStatus(outcome.value).value
    return row


async def held_attempts_many(
    conn: AsyncConnection, delivery_ids: Sequence[int], worker_id: str
) -> dict[int, Held]:
    """Of `delivery_ids`, those `worker_id` still holds (rows locked), by id."""
    held_rows: dict[int, Held] = {}
    for start in range(0, len(delivery_ids), IN_CHUNK):
        chunk = list(delivery_ids[start : start + IN_CHUNK])
        query = (
            select(d.c.id, d.c.channel, d.c.attempts, d.c.attempt_base)
            .where(
                d.c.id.in_(chunk),
                d.c.status == DeliveryStatus.SENDING,
                d.c.lease_owner == worker_id,
            )
            .with_for_update()
        )
        held_rows.update(
            (row.id, Held(row.channel, row.attempts, row.attempts - row.attempt_base))
            for row in await conn.execute(query)
        )
    return held_rows


async def settle_many(
    conn: AsyncConnection, worker_id: str, now: datetime, rows: Sequence[Mapping[str, Any]]
) -> None:
    """`settle` for many held deliveries in two statements (executemany).

    Each row: b_id, b_attempt, b_status, b_next, b_receipt (None keeps the old one),
    b_error (None keeps the old last_error), b_outcome, b_attempt_error.
    """
    if not rows:
        return
    params = [{**row, "b_owner": worker_id, "b_now": now} for row in rows]
    await conn.execute(
        update(d)
        .where(
            d.c.id == bindparam("b_id"),
            d.c.status == DeliveryStatus.SENDING,
            d.c.lease_owner == bindparam("b_owner"),
        )
        .values(
            status=bindparam("b_status"),
            next_attempt_at=bindparam("b_next", type_=UTCDateTime()),
            receipt=func.coalesce(bindparam("b_receipt", type_=Text()), d.c.receipt),
            last_error=func.coalesce(bindparam("b_error", type_=Text()), d.c.last_error),
            lease_owner=None,
            lease_expires_at=None,
            updated_at=bindparam("b_now", type_=UTCDateTime()),
        ),
        params,
    )
    await conn.execute(
        update(a)
        .where(a.c.delivery_id == bindparam("b_id"), a.c.attempt == bindparam("b_attempt"))
        .values(
            finished_at=bindparam("b_now", type_=UTCDateTime()),
            outcome=bindparam("b_outcome"),
            error=bindparam("b_attempt_error", type_=Text()),
        ),
        params,
    )


async def release_leases(conn: AsyncConnection, worker_id: str, now: datetime) -> int:
    """Hand back a worker's leased deliveries as if never claimed; returns how many."""
    mine = (d.c.lease_owner == worker_id, d.c.status == DeliveryStatus.SENDING)
    rows = (await conn.execute(select(d.c.id, d.c.attempts).where(*mine).with_for_update())).all()
    if not rows:
        return 0
    await conn.execute(
        delete(a).where(
            a.c.delivery_id == bindparam("b_id"),
            a.c.attempt == bindparam("b_attempt"),
            a.c.finished_at.is_(None),
        ),
        [{"b_id": row.id, "b_attempt": row.attempts} for row in rows],
    )
    await conn.execute(
        update(d)
        .where(*mine)
        .values(
            status=case(
                (d.c.attempts <= 1, DeliveryStatus.CREATED.value),
                else_=DeliveryStatus.TEMPORARY_FAILURE.value,
            ),
            attempts=d.c.attempts - 1,
            lease_owner=None,
            lease_expires_at=None,
            next_attempt_at=now,
            updated_at=now,
        )
    )
    return len(rows)


async def cancel_matching(
    conn: AsyncConnection,
    conditions: Sequence[ColumnElement[bool]],
    ids: Iterable[int] | None,
    now: datetime,
    reason: str,
) -> int:
    """Cancel due deliveries matching `conditions` (and `ids`, when given)."""
    id_list = None if ids is None else list(ids)
    chunks: list[list[int] | None] = (
        [None]
        if id_list is None
        else [id_list[i : i + IN_CHUNK] for i in range(0, len(id_list), IN_CHUNK)]
    )
    cancelled = 0
    for chunk in chunks:
        where = [due(now), *conditions]
        if chunk is not None:
            where.append(d.c.id.in_(chunk))
        query = select(d.c.id, d.c.status, d.c.attempts, d.c.lease_owner).where(*where)
        rows = (await conn.execute(query.with_for_update())).all()
        await close_abandoned(conn, rows, now)
        for start in range(0, len(rows), IN_CHUNK):
            matched = [row.id for row in rows[start : start + IN_CHUNK]]
            cancelled += await _set(
                conn, matched, now, status=DeliveryStatus.CANCELLED, last_error=reason
            )
    return cancelled


async def close_abandoned(conn: AsyncConnection, rows: Sequence[AnyRow], now: datetime) -> None:
    """Close the open attempts of the expired leases among `rows` as `lease-expired`."""
    abandoned = [
        {"b_id": row.id, "b_attempt": row.attempts, "b_error": f"{row.lease_owner} lost its lease"}
        for row in rows
        if row.status == DeliveryStatus.SENDING
    ]
    if abandoned:
        await conn.execute(
            update(a)
            .where(
                a.c.delivery_id == bindparam("b_id"),
                a.c.attempt == bindparam("b_attempt"),
                a.c.finished_at.is_(None),
            )
            .values(
                finished_at=now, outcome=AttemptOutcome.LEASE_EXPIRED, error=bindparam("b_error")
            ),
            abandoned,
        )


async def _set(
    conn: AsyncConnection,
    ids: Sequence[int],
    now: datetime,
    status: DeliveryStatus,
    last_error: str,
) -> int:
    """Put deliveries in a final `status`, lease cleared; returns how many changed."""
    result = await conn.execute(
        update(d)
        .where(d.c.id.in_(ids))
        .values(
            status=status,
            next_attempt_at=None,
            lease_owner=None,
            lease_expires_at=None,
            last_error=last_error,
            updated_at=now,
        )
    )
    return result.rowcount

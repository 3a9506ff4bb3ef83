"""Settling leased deliveries: the outcome a worker reports counts only while it still
holds the lease ("still mine"), one at a time or many in one transaction.

Each function runs inside the caller's write transaction (see `write_transaction`), but
`settle_delivered_in_one_step`, a transaction of its own on SQLite.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Text, bindparam, func, select, text, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from broadcaster.outbox.retry import RetryPolicy
from broadcaster.outbox.tables import (
    AttemptOutcome,
    DeliveryStatus,
    deliveries,
    delivery_attempts,
)
from broadcaster.store.engine import sqlite_write_in_one_step
from broadcaster.store.types import UTCDateTime

log = logging.getLogger(__name__)

IN_CHUNK = 1000  # ids per IN (...) list, well under PostgreSQL's parameter limit

d, a = deliveries, delivery_attempts


def held(delivery_id: int, worker_id: str) -> tuple[ColumnElement[bool], ...]:
    """The delivery is `sending` under a lease owned by `worker_id`."""
    return (
        d.c.id == delivery_id,
        d.c.status == DeliveryStatus.SENDING,
        d.c.lease_owner == worker_id,
    )


@dataclass(frozen=True)
class HeldDelivery:
    """A delivery a worker still holds: its channel, attempts so far and since the last replay."""

    channel: str
    attempts: int
    counted: int  # attempts since the last replay: what the retry policy counts


async def held_attempts(
    conn: AsyncConnection, delivery_id: int, worker_id: str
) -> HeldDelivery | None:
    """The attempt counts of a delivery `worker_id` still holds (row locked), else None."""
    query = (
        select(d.c.channel, d.c.attempts, d.c.attempt_base)
        .where(*held(delivery_id, worker_id))
        .with_for_update()
    )
    row = (await conn.execute(query)).first()
    return (
        None
        if row is None
        else HeldDelivery(row.channel, row.attempts, row.attempts - row.attempt_base)
    )


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


def retry_values(
    held_row: HeldDelivery,
    policy: RetryPolicy,
    now: datetime,
    error: str,
    jitter: Callable[[], float],
    after: timedelta | None,
) -> dict[str, Any]:
    """What `settle` writes for a temporary failure: due again after backoff (at least
    `after`), or permanent-failure once the policy's attempts are used up."""
    if held_row.counted >= policy.max_attempts:
        return {
            "status": DeliveryStatus.PERMANENT_FAILURE,
            "next_attempt_at": None,
            "last_error": f"{error} (gave up after {held_row.counted} attempts)",
        }
    delay = policy.delay(held_row.counted, jitter(), after)
    return {
        "status": DeliveryStatus.TEMPORARY_FAILURE,
        "next_attempt_at": now + delay,
        "last_error": error,
    }


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
    # The attempt the worker claimed, when known: a delivered outcome is then written
    # without reading the delivery first (fan-out records a few dozen at a time).
    attempt: int | None = None


def known_delivered(s: Settlement) -> bool:
    """Delivered at a known attempt (fan-out): written without reading the delivery first."""
    return s.outcome is AttemptOutcome.DELIVERED and s.attempt is not None


async def settle_delivered(
    conn: AsyncConnection, worker_id: str, now: datetime, settlements: Sequence[Settlement]
) -> int:
    """Write the `known_delivered` of `settlements`, guarded by the lease like the others;
    returns how many were recorded."""
    known = [s for s in settlements if known_delivered(s)]
    written = await settle_many(conn, worker_id, now, [delivered_row(s, now) for s in known])
    if written >= 0:
        _warn_unrecorded(len(known) - written, worker_id)
    return written if written >= 0 else len(known)


def _warn_unrecorded(lost: int, worker_id: str) -> None:
    if lost > 0:
        log.warning(
            "%s deliveries are no longer leased to %s; their outcome (delivered) was not recorded",
            lost,
            worker_id,
        )


# The same two statements as `settle_many`, for delivered rows, in sqlite3's own words
# (`settle_delivered_in_one_step`): the lease guard, then the attempt's end.
_SQLITE_DELIVERED = (
    "UPDATE deliveries SET status = 'delivered', next_attempt_at = NULL,"
    " receipt = coalesce(?, receipt), lease_owner = NULL, lease_expires_at = NULL,"
    " updated_at = ? WHERE id = ? AND status = 'sending' AND lease_owner = ?"
)
_SQLITE_ATTEMPT_DELIVERED = (
    "UPDATE delivery_attempts SET finished_at = ?, outcome = 'delivered', error = NULL"
    " WHERE delivery_id = ? AND attempt = ? AND worker = ? AND finished_at IS NULL"
)


# A time as SQLAlchemy binds it on SQLite (naive UTC, which sqlite3 writes as text), made
# once: the fan-out writes often.
_SQLITE_TIME: Callable[[datetime], object] = UTCDateTime().bind_processor(sqlite.dialect())


async def settle_delivered_in_one_step(
    engine: AsyncEngine, worker_id: str, now: datetime, settlements: Sequence[Settlement]
) -> int:
    """`settle_delivered` in a transaction of its own, in one trip to SQLite's thread
    (`sqlite_write_in_one_step`): a fan-out records its outcomes this way, every few dozen
    messages. Every one of `settlements` must be `known_delivered`."""
    if not all(known_delivered(s) for s in settlements):
        raise ValueError("only outcomes delivered at a known attempt are written this way")
    stored_now = _SQLITE_TIME(now)
    delivered = [(s.detail, stored_now, s.delivery_id, worker_id) for s in settlements]
    ended = [(stored_now, s.delivery_id, s.attempt, worker_id) for s in settlements]

    def work(db: sqlite3.Connection) -> int:
        written = db.executemany(_SQLITE_DELIVERED, delivered).rowcount
        db.executemany(_SQLITE_ATTEMPT_DELIVERED, ended)
        return written

    written = await sqlite_write_in_one_step(engine, work)
    _warn_unrecorded(len(settlements) - written, worker_id)
    return written


def delivered_row(s: Settlement, now: datetime) -> dict[str, Any]:
    """The `settle_many` parameters for a delivery reported delivered at a known attempt."""
    return {
        "b_id": s.delivery_id,
        "b_attempt": s.attempt,
        "b_status": DeliveryStatus.DELIVERED.value,
        "b_next": None,
        "b_receipt": s.detail,
        "b_error": None,
        "b_outcome": AttemptOutcome.DELIVERED.value,
        "b_attempt_error": None,
    }


def deferred_row(s: Settlement, held_row: HeldDelivery, now: datetime) -> dict[str, Any]:
    """The `requeue.defer_many` parameters for a deferred settlement: due again after
    `s.after` (a second when not said)."""
    after = s.after or timedelta(seconds=1)
    return {
        "b_id": s.delivery_id,
        "b_attempt": held_row.attempts,
        "b_next": now + after,
        "b_error": s.detail,
    }


def settled_row(
    s: Settlement,
    held_row: HeldDelivery,
    now: datetime,
    policy: RetryPolicy,
    jitter: Callable[[], float],
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
        if counted >= policy.max_attempts:
            row["b_status"] = DeliveryStatus.PERMANENT_FAILURE.value
            row["b_error"] = f"{detail} (gave up after {counted} attempts)"
        else:
            row["b_status"] = DeliveryStatus.TEMPORARY_FAILURE.value
            row["b_next"] = now + policy.delay(counted, jitter(), s.after)
    elif outcome is AttemptOutcome.LEASE_EXPIRED:
        raise ValueError("lease-expired is recorded by claims, not reported by workers")
    else:  # permanent-failure, technical-failure, cancelled
        row["b_status"] = DeliveryStatus(outcome.value).value
    return row


async def held_attempts_many(
    conn: AsyncConnection, delivery_ids: Sequence[int], worker_id: str
) -> dict[int, HeldDelivery]:
    """Of `delivery_ids`, those `worker_id` still holds (rows locked), by id."""
    held_rows: dict[int, HeldDelivery] = {}
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
            (row.id, HeldDelivery(row.channel, row.attempts, row.attempts - row.attempt_base))
            for row in await conn.execute(query)
        )
    return held_rows


# `settle_many` on PostgreSQL: the same two updates as one statement over arrays (one
# parameter per column, not one execution per row).
_PG_SETTLE_MANY = text(
    """
WITH v AS (
    SELECT * FROM unnest(
        CAST(:ids AS BIGINT[]), CAST(:attempts AS INTEGER[]), CAST(:statuses AS TEXT[]),
        CAST(:nexts AS TIMESTAMPTZ[]), CAST(:receipts AS TEXT[]), CAST(:errors AS TEXT[]),
        CAST(:outcomes AS TEXT[]), CAST(:attempt_errors AS TEXT[])
    ) AS v (id, attempt, status, next_at, receipt, error, outcome, attempt_error)
), settled AS (
    UPDATE deliveries AS d
    SET status = v.status, next_attempt_at = v.next_at,
        receipt = coalesce(v.receipt, d.receipt), last_error = coalesce(v.error, d.last_error),
        lease_owner = NULL, lease_expires_at = NULL, updated_at = CAST(:now AS TIMESTAMPTZ)
    FROM v
    WHERE d.id = v.id AND d.status = 'sending' AND d.lease_owner = :owner
    RETURNING d.id
), ended AS (
    UPDATE delivery_attempts AS a
    SET finished_at = CAST(:now AS TIMESTAMPTZ), outcome = v.outcome, error = v.attempt_error
    FROM v
    WHERE a.delivery_id = v.id AND a.attempt = v.attempt AND a.worker = :owner
        AND a.finished_at IS NULL
    RETURNING a.delivery_id
)
SELECT count(*) FROM settled
"""
)


async def _settle_many_postgresql(
    conn: AsyncConnection, worker_id: str, now: datetime, rows: Sequence[Mapping[str, Any]]
) -> int:
    columns = {
        "ids": "b_id",
        "attempts": "b_attempt",
        "statuses": "b_status",
        "nexts": "b_next",
        "receipts": "b_receipt",
        "errors": "b_error",
        "outcomes": "b_outcome",
        "attempt_errors": "b_attempt_error",
    }
    params: dict[str, Any] = {name: [row[key] for row in rows] for name, key in columns.items()}
    result = await conn.execute(_PG_SETTLE_MANY, {**params, "now": now, "owner": worker_id})
    return int(result.scalar_one())


async def settle_many(
    conn: AsyncConnection, worker_id: str, now: datetime, rows: Sequence[Mapping[str, Any]]
) -> int:
    """`settle` for many held deliveries in two statements (executemany; one on
    PostgreSQL); returns how many deliveries were still held (-1 when the driver cannot
    tell).

    Each row: b_id, b_attempt, b_status, b_next, b_receipt (None keeps the old one),
    b_error (None keeps the old last_error), b_outcome, b_attempt_error. An attempt that
    already ended (a claim found its lease run out) keeps what the claim recorded.
    """
    if not rows:
        return 0
    if conn.dialect.name == "postgresql":
        return await _settle_many_postgresql(conn, worker_id, now, rows)
    params = [{**row, "b_owner": worker_id, "b_now": now} for row in rows]
    result = await conn.execute(
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
        .where(
            a.c.delivery_id == bindparam("b_id"),
            a.c.attempt == bindparam("b_attempt"),
            a.c.worker == bindparam("b_owner"),  # a released attempt's number is reused
            a.c.finished_at.is_(None),
        )
        .values(
            finished_at=bindparam("b_now", type_=UTCDateTime()),
            outcome=bindparam("b_outcome"),
            error=bindparam("b_attempt_error", type_=Text()),
        ),
        params,
    )
    return int(result.rowcount)

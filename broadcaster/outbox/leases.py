"""Queries that lease due deliveries to workers, hand leases back, and cancel deliveries.

Settling a lease is in `settlement`.

Each function runs inside the caller's write transaction (see `write_transaction`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Select,
    any_,
    bindparam,
    case,
    delete,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import ReturningUpdate

from broadcaster.outbox.records import AnyRow, ClaimedDelivery
from broadcaster.outbox.tables import (
    ONE_BY_ONE,
    AttemptOutcome,
    DeliveryStatus,
    PublicationKind,
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


@dataclass(frozen=True)
class Wanted:
    """Which due deliveries a claim takes: on `channels` only, and with `batch` set, those
    queued for batch channels (True) or to go one by one (False)."""

    channels: Collection[str] | None = None
    batch: bool | None = None

    def narrow(self, query: Select[Any]) -> Select[Any]:
        if self.channels is not None:
            query = query.where(d.c.channel.in_(sorted(self.channels)))
        if self.batch is True:
            query = query.where(d.c.batch.is_(True))
        elif self.batch is False:
            # In the words of ix_deliveries_claim_one, so that this small index is used.
            query = query.where(ONE_BY_ONE)
        return query


async def any_due(conn: AsyncConnection, now: datetime, wanted: Wanted) -> bool:
    """Whether `claim_due` for `wanted` would find a delivery (a read, no lock)."""
    query = select(d.c.id).where(d.c.next_attempt_at <= now, due(now)).limit(1)
    return (await conn.execute(wanted.narrow(query))).first() is not None


def _due_query(now: datetime, limit: int, wanted: Wanted) -> Select[Any]:
    """Up to `limit` due deliveries with their campaign, longest-waiting first, locked."""
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
    return wanted.narrow(query)


async def _give_up_exhausted(
    conn: AsyncConnection,
    rows: Sequence[AnyRow],
    now: datetime,
    max_attempts: Callable[[str], int],
) -> set[int]:
    """Make technical-failures of the abandoned rows whose lease expired on their last
    allowed attempt; returns their ids."""
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
    return {row.id for row in exhausted}


def _lease(
    candidates: Sequence[int],
    worker_id: str,
    now: datetime,
    lease_expires: datetime,
    postgresql: bool,
) -> ReturningUpdate[Any]:
    """The UPDATE that leases the candidates still due to `worker_id`, returning the ids
    it got and their attempt numbers."""
    # An array on PostgreSQL: one parameter, not a thousand to plan.
    ids = (
        d.c.id == any_(bindparam("b_ids", list(candidates), type_=ARRAY(BigInteger)))
        if postgresql
        else d.c.id.in_(candidates)
    )
    # Re-checking "still due" makes a double claim impossible even without the row locks.
    return (
        update(d)
        .where(ids, d.c.next_attempt_at <= now, due(now))
        .values(
            status=DeliveryStatus.SENDING,
            lease_owner=worker_id,
            lease_expires_at=lease_expires,
            next_attempt_at=lease_expires,  # reclaimable once the lease runs out
            attempts=d.c.attempts + 1,
            updated_at=now,
        )
        .returning(d.c.id, d.c.attempts)
    )


async def _lease_and_start(
    conn: AsyncConnection,
    candidates: Sequence[int],
    worker_id: str,
    now: datetime,
    lease_expires: datetime,
) -> set[int]:
    """Lease the candidates still due and open an attempt for each; returns the ids got.
    One statement on PostgreSQL (the attempts are inserted from the UPDATE's RETURNING),
    two on SQLite."""
    if conn.dialect.name == "postgresql":
        taken = _lease(candidates, worker_id, now, lease_expires, postgresql=True).cte("taken")
        started = insert(a).from_select(
            ["delivery_id", "attempt", "worker", "started_at"],
            select(taken.c.id, taken.c.attempts, literal(worker_id), literal(now, UTCDateTime())),
        )
        query = select(taken.c.id).add_cte(started.cte("started"))
        return set((await conn.execute(query)).scalars())
    rows = (await conn.execute(_lease(candidates, worker_id, now, lease_expires, False))).all()
    if rows:
        attempt_rows = [
            {"delivery_id": row_id, "attempt": attempt, "worker": worker_id, "started_at": now}
            for row_id, attempt in rows
        ]
        await conn.execute(insert(a), attempt_rows)
    return {row_id for row_id, _ in rows}


def _claimed(rows: Sequence[AnyRow], lease_expires: datetime) -> list[ClaimedDelivery]:
    """The leased rows (in `_due_query`'s column order) as ClaimedDelivery."""
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
        ) in rows
    ]


async def claim_due(
    conn: AsyncConnection,
    *,
    worker_id: str,
    limit: int,
    now: datetime,
    lease_expires: datetime,
    wanted: Wanted,
    max_attempts: Callable[[str], int],
) -> list[ClaimedDelivery]:
    """Lease up to `limit` due deliveries, longest-waiting first (see `Outbox.claim`)."""
    rows = (await conn.execute(_due_query(now, limit, wanted))).all()
    await close_abandoned(conn, rows, now)
    exhausted_ids = await _give_up_exhausted(conn, rows, now, max_attempts)
    candidates = [row.id for row in rows if row.id not in exhausted_ids]
    if not candidates:
        return []
    taken_ids = await _lease_and_start(conn, candidates, worker_id, now, lease_expires)
    return _claimed([row for row in rows if row.id in taken_ids], lease_expires)


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


def matching(
    recipient: str | None,
    channel: str | None,
    publication_id: int | None,
    campaign_id: str | None,
) -> list[ColumnElement[bool]]:
    """Conditions for `cancel_matching`: the deliveries to a recipient, on a channel, of a
    publication, or of every publication (not withdrawal) of a campaign; they combine."""
    conditions: list[ColumnElement[bool]] = []
    if recipient is not None:
        conditions.append(d.c.recipient == recipient)
    if channel is not None:
        conditions.append(d.c.channel == channel)
    if publication_id is not None:
        conditions.append(d.c.publication_id == publication_id)
    if campaign_id is not None:
        p = publications.c
        of_campaign = select(p.id).where(
            p.campaign_id == campaign_id, p.kind == PublicationKind.PUBLICATION
        )
        conditions.append(d.c.publication_id.in_(of_campaign))
    return conditions


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

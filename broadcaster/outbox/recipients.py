"""What the subscriber store asks of the outbox when a subscriber leaves or is erased.

Each function runs inside the caller's transaction, so the subscriber's change and its
deliveries' change commit together.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from broadcaster.outbox import leases
from broadcaster.outbox.tables import deliveries, delivery_attempts

d, a = deliveries, delivery_attempts


def _deliveries_to(recipient: str, channels: Collection[str] | None) -> list[ColumnElement[bool]]:
    conditions = [d.c.recipient == recipient]
    if channels is not None:
        conditions.append(d.c.channel.in_(list(channels)))
    return conditions


async def cancel_queued(
    conn: AsyncConnection,
    recipient: str,
    channels: Collection[str] | None,
    now: datetime,
    reason: str,
) -> int:
    """Cancel the recipient's deliveries (on `channels`, when given) still waiting to go
    out, as `Outbox.cancel` does; returns how many.

    A delivery a worker holds under a live lease is not interrupted: the worker's
    `sendable()` check right before sending stops it.
    """
    return await leases.cancel_matching(
        conn, _deliveries_to(recipient, channels), None, now, reason
    )


async def scrub_texts(
    conn: AsyncConnection,
    recipient: str,
    channels: Collection[str] | None,
    scrub: Callable[[str], str],
) -> None:
    """Rewrite the recipient's delivery errors, receipts and attempt errors with `scrub`.

    Done in Python (the caller's `scrub`): SQLite has no case-insensitive replace, and a
    subscriber has only a few deliveries (one per publication).
    """

    def cleaned(text: str | None) -> str | None:
        return None if text is None else scrub(text)

    mine = select(d.c.id).where(*_deliveries_to(recipient, channels))
    texts = await conn.execute(
        select(d.c.id, d.c.last_error, d.c.receipt).where(
            d.c.id.in_(mine), or_(d.c.last_error.is_not(None), d.c.receipt.is_not(None))
        )
    )
    for row in texts.all():
        values = {"last_error": cleaned(row.last_error), "receipt": cleaned(row.receipt)}
        if values != {"last_error": row.last_error, "receipt": row.receipt}:
            await conn.execute(update(d).where(d.c.id == row.id).values(**values))
    errors = await conn.execute(
        select(a.c.delivery_id, a.c.attempt, a.c.error).where(
            a.c.delivery_id.in_(mine), a.c.error.is_not(None)
        )
    )
    for row in errors.all():
        if (new := cleaned(row.error)) != row.error:
            await conn.execute(
                update(a)
                .where(a.c.delivery_id == row.delivery_id, a.c.attempt == row.attempt)
                .values(error=new)
            )

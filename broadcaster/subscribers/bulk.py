"""Importing and exporting the list in bulk (the `subscribers import|export` commands).

An import runs in one transaction with batched multi-row inserts: all of a valid file
goes in, or none of it. Addresses already on the list are left exactly as they are (an
import must not override a citizen's own choices, nor re-subscribe someone who left),
and suppressed addresses are skipped.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from broadcaster.outbox.outbox import Clock, utc_now
from broadcaster.store.engine import (
    ANALYZE_AFTER,
    insert_or_ignore,
    refresh_statistics,
    write_transaction,
)
from broadcaster.subscribers.addresses import AddressHasher
from broadcaster.subscribers.api import SubscriberStatus
from broadcaster.subscribers.csvio import CsvSubscriber
from broadcaster.subscribers.queries import not_suppressed
from broadcaster.subscribers.tables import (
    ConsentAction,
    ConsentForm,
    consents,
    subscribers,
    suppressions,
)

BATCH = 1000  # rows per multi-row INSERT
EXPORTED = (SubscriberStatus.PENDING, SubscriberStatus.CONFIRMED)

s = subscribers


@dataclass
class Imported:
    """What an import did. `needs_confirmation`: (subscriber_id, email, locale) added as
    pending; their confirmation emails go out from `serve` (`confirmation_due_at` is
    set until then; see `broadcaster.subscribers.confirmations`)."""

    confirmed: int = 0
    needs_confirmation: list[tuple[int, str, str]] = field(default_factory=list)
    already_listed: list[int] = field(default_factory=list)  # file lines
    suppressed: list[int] = field(default_factory=list)  # file lines

    @property
    def added(self) -> int:
        """How many subscribers the import added."""
        return self.confirmed + len(self.needs_confirmation)


async def import_subscribers(
    engine: AsyncEngine,
    secret: bytes,
    rows: Sequence[CsvSubscriber],
    *,
    confirmed: bool,
    note: str | None,
    clock: Clock = utc_now,
    advance: Callable[[int], None] = lambda count: None,
) -> Imported:
    """Add `rows` (already validated) in one transaction.

    With `confirmed` (the caller holds proof of consent, described in `note`) rows are
    added confirmed, except those whose status column says pending.
    """
    if confirmed and not (note and note.strip()):
        raise ValueError("a confirmed import needs a consent note saying how consent was given")
    hasher = AddressHasher(secret)
    now = clock().astimezone(UTC)
    result = Imported()
    async with write_transaction(engine) as conn:
        for start in range(0, len(rows), BATCH):
            chunk = rows[start : start + BATCH]
            await _import_batch(conn, chunk, hasher, confirmed, note, now, result)
            advance(len(chunk))
    if result.added >= ANALYZE_AFTER:
        await refresh_statistics(engine, s)
    return result


async def _import_batch(
    conn: AsyncConnection,
    rows: Sequence[CsvSubscriber],
    hasher: AddressHasher,
    confirmed: bool,
    note: str | None,
    now: datetime,
    result: Imported,
) -> None:
    by_hash = {hasher(row.email): row for row in rows}
    blocked = set(
        (
            await conn.execute(
                select(suppressions.c.email_hash).where(suppressions.c.email_hash.in_(by_hash))
            )
        ).scalars()
    )
    new: list[dict[str, object]] = []
    candidates: list[str] = []
    for email_hash, row in by_hash.items():
        if email_hash in blocked:
            result.suppressed.append(row.line)
            continue
        candidates.append(email_hash)
        new.append(_subscriber_row(row, email_hash, confirmed, now))
    if not new:
        return
    insert = insert_or_ignore(conn.dialect, s, "email_hash").returning(
        s.c.id, s.c.email_hash, s.c.status
    )
    added = (await conn.execute(insert, new)).all()
    inserted = {record.email_hash for record in added}
    result.already_listed.extend(by_hash[h].line for h in candidates if h not in inserted)
    for record in added:
        source = by_hash[record.email_hash]
        if record.status == SubscriberStatus.CONFIRMED:
            result.confirmed += 1
        else:
            result.needs_confirmation.append((record.id, source.email, source.locale))
    if added:
        await _record_consents(conn, [record.id for record in added], note, now)


def _subscriber_row(
    row: CsvSubscriber, email_hash: str, confirmed: bool, now: datetime
) -> dict[str, object]:
    """The subscribers row for one CSV line; pending (confirmation mail due) unless confirmed."""
    is_confirmed = confirmed and row.status != SubscriberStatus.PENDING
    return {
        "email": row.email,
        "email_hash": email_hash,
        "locale": row.locale,
        "topics": list(row.topics),
        "frequency": row.frequency,
        "status": SubscriberStatus.CONFIRMED if is_confirmed else SubscriberStatus.PENDING,
        "created_at": now,
        "confirmed_at": now if is_confirmed else None,
        "last_confirmation_sent_at": None,
        "confirmation_due_at": None if is_confirmed else now,  # serve sends it
        "token_version": 0,
        "bounce_score": 0,
    }


async def _record_consents(
    conn: AsyncConnection, subscriber_ids: Sequence[int], note: str | None, now: datetime
) -> None:
    """One import consent record per added subscriber, carrying the import's note."""
    await conn.execute(
        consents.insert(),
        [
            {
                "subscriber_id": subscriber_id,
                "action": ConsentAction.IMPORT,
                "at": now,
                "ip": None,
                "form": ConsentForm.IMPORT,
                "wording_version": None,
                "note": note,
            }
            for subscriber_id in subscriber_ids
        ],
    )


async def export_subscribers(
    engine: AsyncEngine, batch: int = 5000
) -> AsyncIterator[list[tuple[str, str, list[str], str, str]]]:
    """Pending and confirmed, unsuppressed subscribers as (email, locale, topics, frequency,
    status), in id order, a batch at a time (keyset pagination: memory stays flat)."""
    after = 0
    while True:
        async with engine.connect() as conn:
            query = (
                select(s.c.id, s.c.email, s.c.locale, s.c.topics, s.c.frequency, s.c.status)
                .where(s.c.id > after, s.c.status.in_(EXPORTED), not_suppressed())
                .order_by(s.c.id)
                .limit(batch)
            )
            rows = (await conn.execute(query)).all()
        if not rows:
            return
        yield [(r.email, r.locale, list(r.topics), r.frequency, r.status) for r in rows]
        if len(rows) < batch:
            return
        after = rows[-1].id

"""What the mail engine reads from the subscriber store: recipients in batches, who may
still be mailed right before sending, and the double opt-in emails owed.

A mixin of `SqlSubscriberStore` (same engine and clock), kept apart from what subscribers
themselves do (subscribe, confirm, preferences, unsubscribe, delete).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from broadcaster.store.engine import write_transaction
from broadcaster.subscribers import queries as q
from broadcaster.subscribers.api import Recipient, SubscriberStatus
from broadcaster.subscribers.tables import subscribers
from broadcaster.workspace.models import Frequency

# A subscribe's confirmation email is sent at once; if it has not gone after this long
# (the process died, the relay was down), the service's sweep sends it.
CONFIRMATION_SWEEP_AFTER = timedelta(minutes=1)
ID_CHUNK = 10_000  # ids per `sendable` query, well under every driver's parameter limit

s = subscribers


class MailingQueries:
    """Reads and marks for the mail engine and the confirmation sweep."""

    _engine: AsyncEngine

    def _now(self) -> datetime:
        raise NotImplementedError

    async def recipients(
        self, topics: Sequence[str], frequency: Frequency, batch: int = 5000
    ) -> AsyncIterator[list[Recipient]]:
        """Confirmed, unsuppressed subscribers of any of `topics` with `frequency`, in batches.

        Keyset pagination by id, one short read per batch (no connection held between
        batches), so memory stays flat however long the list; topics are matched in SQL.
        """
        wanted = list(dict.fromkeys(topics))
        if not wanted or batch < 1:
            return
        frequency = Frequency(frequency)
        after = 0
        while True:
            async with self._engine.connect() as conn:
                query = (
                    select(*q.RECIPIENT_COLUMNS)
                    .where(
                        s.c.frequency == frequency,
                        s.c.id > after,
                        *q.sendable_now(),
                        q.topics_overlap(conn.dialect.name, wanted),
                    )
                    .order_by(s.c.id)
                    .limit(batch)
                )
                rows = (await conn.execute(query)).all()
            if not rows:
                return
            yield [q.to_recipient(row) for row in rows]
            if len(rows) < batch:
                return
            after = rows[-1].id

    async def sendable(self, ids: Sequence[int]) -> dict[int, Recipient]:
        """Of `ids`, those that may still be mailed now (one query per 10,000 ids)."""
        wanted = sorted(set(ids))
        found: dict[int, Recipient] = {}
        async with self._engine.connect() as conn:
            for start in range(0, len(wanted), ID_CHUNK):
                chunk = wanted[start : start + ID_CHUNK]
                query = select(*q.RECIPIENT_COLUMNS).where(s.c.id.in_(chunk), *q.sendable_now())
                for row in await conn.execute(query):
                    found[row.id] = q.to_recipient(row)
        return found

    # For the mail engine: imported pending subscribers have had no confirmation yet.

    async def confirmations_due(
        self, batch: int = 1000, due_by: datetime | None = None
    ) -> list[Recipient]:
        """Pending, unsuppressed subscribers whose confirmation email is due, longest first.

        Imports are due at once; a subscribe on the site is due CONFIRMATION_SWEEP_AFTER
        after the request, in case the email sent right away did not go (a crash, the
        relay down): sending it clears the due time (`mark_confirmation_sent`).
        """
        async with self._engine.connect() as conn:
            query = (
                select(*q.RECIPIENT_COLUMNS)
                .where(
                    s.c.confirmation_due_at <= (due_by or self._now()),
                    s.c.status == SubscriberStatus.PENDING,
                    q.not_suppressed(),
                )
                .order_by(s.c.confirmation_due_at, s.c.id)
                .limit(batch)
            )
            return [q.to_recipient(row) for row in await conn.execute(query)]

    async def pending_recipient(self, subscriber_id: int) -> Recipient | None:
        """The subscriber, while pending and not suppressed (a confirmation may go out)."""
        async with self._engine.connect() as conn:
            query = select(*q.RECIPIENT_COLUMNS).where(
                s.c.id == subscriber_id, s.c.status == SubscriberStatus.PENDING, q.not_suppressed()
            )
            row = (await conn.execute(query)).first()
        return None if row is None else q.to_recipient(row)

    async def mark_confirmation_sent(self, ids: Sequence[int]) -> None:
        """Record that confirmation emails went out to `ids` now (none is due any more)."""
        await self._set_confirmation(ids, last_confirmation_sent_at=self._now())

    async def postpone_confirmation(self, ids: Sequence[int], until: datetime | None) -> None:
        """Try the confirmation emails of `ids` again at `until`; None: do not send them."""
        await self._set_confirmation(ids, confirmation_due_at=until)

    async def _set_confirmation(self, ids: Sequence[int], **values: datetime | None) -> None:
        wanted = sorted(set(ids))
        values.setdefault("confirmation_due_at", None)
        async with write_transaction(self._engine) as conn:
            for start in range(0, len(wanted), ID_CHUNK):
                chunk = wanted[start : start + ID_CHUNK]
                await conn.execute(update(s).where(s.c.id.in_(chunk)).values(**values))

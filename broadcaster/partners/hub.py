"""WebSub subscriptions in the store: leases that expire, renewals, and who gets a feed.

`serve` is the WebSub hub of its own feeds (W3C WebSub, broadcaster.partners.websub). A
subscription is stored only once its callback has confirmed the intent; subscribing again
to the same (topic, callback) renews it: a new lease from now, and the secret given then
(or none). An expired subscription gets nothing more and is swept away on the next
subscription request. The secret is stored encrypted, like partners' signing secrets.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from broadcaster.partners.secrets import SecretBox
from broadcaster.partners.tables import websub_subscriptions
from broadcaster.store.engine import insert_or_ignore, write_transaction

RECIPIENT_PREFIX = "websub:"
ID_CHUNK = 1000  # ids per IN (...) list, well under every driver's parameter limit
OPENED_KEPT = 100_000


def recipient(subscription_id: int) -> str:
    """The outbox recipient of one subscription's distributions (on the feed channel)."""
    return f"{RECIPIENT_PREFIX}{subscription_id}"


def subscription_id_of(recipient_key: str) -> int | None:
    """The subscription id in an outbox recipient made by `recipient`, or None."""
    rest = recipient_key.removeprefix(RECIPIENT_PREFIX)
    return int(rest) if rest != recipient_key and rest.isdigit() else None


@dataclass(frozen=True)
class Subscription:
    """One active or expired subscription, its secret opened (never logged)."""

    id: int
    topic: str
    callback: str
    locale: str
    secret: str | None
    lease_seconds: int
    expires_at: datetime

    def __repr__(self) -> str:
        return f"Subscription({self.id}, {self.topic!r}, {self.callback!r})"


class HubStore:
    """WebSub subscriptions on SQLite or PostgreSQL."""

    def __init__(
        self,
        engine: AsyncEngine,
        secret_key: Callable[[], bytes],
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._engine = engine
        self.box = SecretBox(secret_key)
        self._clock = clock
        # Secrets opened before, by their sealed text: a distribution to 1,000 subscribers
        # would otherwise decrypt 1,000 secrets every time.
        self._opened: dict[str, str] = {}

    async def subscribe(
        self, topic: str, callback: str, locale: str, lease_seconds: int, secret: str | None
    ) -> Subscription:
        """Store a verified subscription, or renew it: its lease starts now."""
        now = self._clock()
        expires = now + timedelta(seconds=lease_seconds)
        sealed = self.box.seal(secret) if secret else None
        s = websub_subscriptions.c
        async with write_transaction(self._engine) as conn:
            await conn.execute(delete(websub_subscriptions).where(s.expires_at <= now))
            inserted = await conn.execute(
                insert_or_ignore(conn.dialect, websub_subscriptions, "topic", "callback").values(
                    topic=topic,
                    callback=callback,
                    locale=locale,
                    secret=sealed,
                    lease_seconds=lease_seconds,
                    expires_at=expires,
                    created_at=now,
                    renewed_at=now,
                )
            )
            if not inserted.rowcount:
                await conn.execute(
                    update(websub_subscriptions)
                    .where(s.topic == topic, s.callback == callback)
                    .values(
                        secret=sealed,
                        lease_seconds=lease_seconds,
                        expires_at=expires,
                        renewed_at=now,
                    )
                )
            row = (
                await conn.execute(select(s.id).where(s.topic == topic, s.callback == callback))
            ).one()
        return Subscription(row.id, topic, callback, locale, secret, lease_seconds, expires)

    async def unsubscribe(self, topic: str, callback: str) -> bool:
        """Remove a subscription (after its callback confirmed); False if there was none."""
        s = websub_subscriptions.c
        async with write_transaction(self._engine) as conn:
            done = await conn.execute(
                delete(websub_subscriptions).where(s.topic == topic, s.callback == callback)
            )
        return bool(done.rowcount)

    async def remove(self, subscription_id: int) -> None:
        """Remove a subscription whose callback answered 410 Gone."""
        s = websub_subscriptions.c
        async with write_transaction(self._engine) as conn:
            await conn.execute(delete(websub_subscriptions).where(s.id == subscription_id))

    async def active(
        self, topics: Collection[str], batch: int = 5000
    ) -> AsyncIterator[list[tuple[int, str]]]:
        """(id, locale) of every active subscription to one of `topics`, in batches by id."""
        s = websub_subscriptions.c
        now = self._clock()
        after = 0
        while True:
            query = (
                select(s.id, s.locale)
                .where(s.topic.in_(sorted(topics)), s.expires_at > now, s.id > after)
                .order_by(s.id)
                .limit(batch)
            )
            async with self._engine.connect() as conn:
                rows = [(int(row.id), row.locale) for row in await conn.execute(query)]
            if not rows:
                return
            yield rows
            after = rows[-1][0]

    async def find(self, ids: Sequence[int]) -> dict[int, Subscription]:
        """The subscriptions with these ids that still exist (active or expired)."""
        s = websub_subscriptions.c
        found: dict[int, Subscription] = {}
        wanted = sorted(set(ids))
        async with self._engine.connect() as conn:
            for start in range(0, len(wanted), ID_CHUNK):
                chunk = wanted[start : start + ID_CHUNK]
                for row in await conn.execute(select(websub_subscriptions).where(s.id.in_(chunk))):
                    found[int(row.id)] = Subscription(
                        int(row.id),
                        row.topic,
                        row.callback,
                        row.locale,
                        self._open(row.secret) if row.secret else None,
                        int(row.lease_seconds),
                        row.expires_at,
                    )
        return found

    def _open(self, sealed: str) -> str:
        known = self._opened.get(sealed)
        if known is None:
            if len(self._opened) >= OPENED_KEPT:
                self._opened.clear()
            known = self._opened[sealed] = self.box.open(sealed)
        return known

    async def count_active(self) -> int:
        """How many subscriptions are active now."""
        s = websub_subscriptions.c
        async with self._engine.connect() as conn:
            rows = await conn.execute(select(s.id).where(s.expires_at > self._clock()))
            return len(rows.all())

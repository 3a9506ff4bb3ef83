"""The durable outbox: publications expand into deliveries that workers lease, send and settle.

Delivery statuses follow GOV.UK Notify (created, sending, delivered, temporary-failure,
permanent-failure, technical-failure) plus `cancelled`: withdrawn before sending, e.g. by
an unsubscribe. Every outcome a worker reports counts only while it still holds the lease
it was given ("still mine"), so a worker that stalled past its lease cannot overwrite the
one that took over. Times come from an injected clock; processes sharing a database need
synchronised clocks.
"""

from __future__ import annotations

import logging
import random
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Callable,
    Collection,
    Iterable,
    Mapping,
    Sequence,
)
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from broadcaster.outbox import leases, requeue, settlement
from broadcaster.outbox import publications as publishing
from broadcaster.outbox.records import ClaimedDelivery
from broadcaster.outbox.retry import RetryPolicy
from broadcaster.outbox.settlement import Settlement
from broadcaster.outbox.tables import (
    AttemptOutcome,
    DeliveryStatus,
    FiringOutcome,
    PublicationKind,
    PublicationSource,
    deliveries,
    delivery_attempts,
)
from broadcaster.outbox.views import OutboxViews
from broadcaster.store.engine import ANALYZE_AFTER, refresh_statistics, write_transaction

__all__ = ["ClaimedDelivery", "Clock", "Outbox", "RetryPolicy", "Settlement", "utc_now"]

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


class Outbox(OutboxViews):
    """Publications, their deliveries, and lease-based claiming of those deliveries."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        clock: Clock = utc_now,
        retry: RetryPolicy | None = None,
        jitter: Callable[[], float] = random.random,
        batch_size: int = 5000,
    ) -> None:
        super().__init__(engine)
        self._clock = clock
        self._retry = retry or RetryPolicy()
        self._policies: dict[str, RetryPolicy] = {}
        self._jitter = jitter
        self._batch_size = batch_size

    def use_policies(self, policies: Mapping[str, RetryPolicy]) -> None:
        """Channels (by name) that retry on their own policy instead of the default one."""
        self._policies = dict(policies)

    def policy(self, channel: str) -> RetryPolicy:
        """The retry policy deliveries on `channel` follow."""
        return self._policies.get(channel, self._retry)

    def _max_attempts(self, channel: str) -> int:
        return self.policy(channel).max_attempts

    def _now(self) -> datetime:
        now = self._clock()
        if now.tzinfo is None:
            raise ValueError("the outbox clock must return timezone-aware datetimes")
        return now.astimezone(UTC)

    async def create_publication(
        self,
        campaign_id: str,
        revision: str,
        channels: Sequence[str],
        *,
        source: PublicationSource,
        schedule_id: str | None = None,
        fire_time: datetime | None = None,
        snapshot: str | None = None,
        kind: PublicationKind = PublicationKind.PUBLICATION,
    ) -> tuple[int, bool]:
        """Record a publication, at most one per (schedule_id, fire_time); (id, created).

        `snapshot` is the publication frozen as JSON text, kept with it for re-rendering.
        """
        if (schedule_id is None) != (fire_time is None):
            raise ValueError("schedule_id and fire_time are given together or not at all")
        now = self._now()
        async with write_transaction(self._engine) as conn:
            publication_id = await publishing.insert_publication(
                conn,
                campaign_id=campaign_id,
                revision=revision,
                channels=channels,
                source=source,
                schedule_id=schedule_id,
                fire_time=fire_time,
                snapshot=snapshot,
                now=now,
                kind=kind,
            )
            if schedule_id is None or fire_time is None:
                assert publication_id is not None  # without a key nothing can conflict
                return publication_id, True
            if publication_id is None:  # another process fired the same job first
                return await publishing.find_publication(conn, schedule_id, fire_time), False
            await publishing.insert_firing(
                conn, schedule_id, fire_time, FiringOutcome.PUBLISHED, publication_id, now
            )
            return publication_id, True

    async def record_missed(self, schedule_id: str, fire_time: datetime) -> bool:
        """Record a firing skipped as too old to send; False if already recorded."""
        now = self._now()
        async with write_transaction(self._engine) as conn:
            return await publishing.insert_firing(
                conn, schedule_id, fire_time, FiringOutcome.MISSED, None, now
            )

    async def last_fire_time(self, schedule_id: str) -> datetime | None:
        """The latest recorded firing (published or missed) of a schedule."""
        async with self._engine.connect() as conn:
            return await publishing.latest_firing(conn, schedule_id)

    async def enqueue(
        self,
        publication_id: int,
        items: Iterable[tuple[str, str, str]],
        batched: Collection[str] = (),
    ) -> int:
        """Queue (channel, recipient, locale) deliveries, skipping existing ones; returns new.

        Recipient is '' for website and feed. `batched` names the channels that take
        batches (`jobs.batched`): the batch loops claim their deliveries. Each batch
        commits on its own so a long list does not hold SQLite's write lock; after a
        crash, enqueueing again completes it.
        """
        pending = iter(items)

        async def batches() -> AsyncIterator[list[tuple[str, str, str]]]:
            while batch := list(islice(pending, self._batch_size)):
                yield batch

        return await self.enqueue_stream(publication_id, batches(), batched)

    async def enqueue_stream(
        self,
        publication_id: int,
        batches: AsyncIterable[Sequence[tuple[str, str, str]]],
        batched: Collection[str] = (),
    ) -> int:
        """`enqueue` for recipients streamed from the store in batches (memory stays flat).

        The publication is marked enqueued only after the last batch, so a crash midway
        leaves it for `unfinished_publications` and a later run completes it.
        """
        async with self._engine.connect() as conn:
            if not await publishing.publication_exists(conn, publication_id):
                raise LookupError(f"no publication with id {publication_id}")
        created = 0
        async for batch in batches:
            for start in range(0, len(batch), self._batch_size):
                chunk = list(batch[start : start + self._batch_size])
                now = self._now()
                async with write_transaction(self._engine) as conn:
                    created += await publishing.insert_deliveries(
                        conn, publication_id, chunk, now, batched
                    )
        async with write_transaction(self._engine) as conn:
            await publishing.mark_enqueued(conn, publication_id)
        if created >= ANALYZE_AFTER:
            # The attempts too: on a new database the first fan-out's claims fill them as
            # it is queued, from nothing (a plan made before would read them all).
            await refresh_statistics(self._engine, deliveries, delivery_attempts)
        return created

    async def claim(
        self,
        worker_id: str,
        limit: int,
        lease: timedelta,
        channels: Collection[str] | None = None,
        *,
        batch: bool | None = None,
    ) -> list[ClaimedDelivery]:
        """Lease up to `limit` due deliveries to `worker_id`, longest-waiting first.

        `channels` limits the claim to those channels; `batch` takes only those queued for
        batch channels (True) or only the others (False).

        Due: queued and past `next_attempt_at`, or `sending` under an expired lease (its
        worker died). Two claimers never get the same delivery: PostgreSQL skips rows
        another claimer has locked (FOR UPDATE SKIP LOCKED), SQLite admits one writer at a
        time (BEGIN IMMEDIATE). A delivery whose lease expired on its last allowed attempt
        becomes technical-failure instead. `worker_id` must be unique per live worker.
        """
        if limit <= 0 or (channels is not None and not channels):
            return []
        now = self._now()
        wanted = leases.Wanted(channels, batch)
        if self._engine.dialect.name == "sqlite":
            # Look first: most claims (idle polls, loops woken for other channels) find
            # nothing, and SQLite's one write lock would keep every other writer waiting.
            async with self._engine.connect() as conn:
                if not await leases.any_due(conn, now, wanted):
                    return []
        async with write_transaction(self._engine) as conn:
            return await leases.claim_due(
                conn,
                worker_id=worker_id,
                limit=limit,
                now=now,
                lease_expires=now + lease,
                wanted=wanted,
                max_attempts=self._max_attempts,
            )

    async def complete(self, delivery_id: int, worker_id: str, receipt: str | None = None) -> bool:
        """Record a delivery as delivered; False (nothing written) if the lease was lost."""
        values = {"status": DeliveryStatus.DELIVERED, "next_attempt_at": None, "receipt": receipt}
        return await self._settle(delivery_id, worker_id, AttemptOutcome.DELIVERED, None, values)

    async def retry_later(
        self, delivery_id: int, worker_id: str, error: str, after: timedelta | None = None
    ) -> bool:
        """Schedule another try after backoff, at least `after` (Retry-After) from now.

        After the last allowed attempt the delivery becomes permanent-failure instead.
        Returns False, writing nothing, if the lease was lost.
        """
        now = self._now()
        async with write_transaction(self._engine) as conn:
            held = await settlement.held_attempts(conn, delivery_id, worker_id)
            if held is None:
                self._log_lost(delivery_id, worker_id, AttemptOutcome.TEMPORARY_FAILURE)
                return False
            policy = self.policy(held.channel)
            values = settlement.retry_values(held, policy, now, error, self._jitter, after)
            outcome = AttemptOutcome.TEMPORARY_FAILURE
            return await settlement.settle(
                conn, delivery_id, worker_id, now, outcome, error, values
            )

    async def fail(
        self, delivery_id: int, worker_id: str, error: str, technical: bool = False
    ) -> bool:
        """Record a failure that retrying cannot fix; False if the lease was lost.

        `technical` marks our own fault (a bug, a bad template) rather than the recipient's.
        """
        outcome = (
            AttemptOutcome.TECHNICAL_FAILURE if technical else AttemptOutcome.PERMANENT_FAILURE
        )
        values = {
            "status": DeliveryStatus(outcome.value),
            "next_attempt_at": None,
            "last_error": error,
        }
        return await self._settle(delivery_id, worker_id, outcome, error, values)

    async def withdraw(self, delivery_id: int, worker_id: str, reason: str) -> bool:
        """Cancel a held delivery unsent (its recipient unsubscribed since the claim)."""
        values = {"status": DeliveryStatus.CANCELLED, "next_attempt_at": None, "last_error": reason}
        return await self._settle(delivery_id, worker_id, AttemptOutcome.CANCELLED, reason, values)

    async def settle_many(self, worker_id: str, settlements: Sequence[Settlement]) -> int:
        """Record many outcomes in one transaction; returns how many were recorded.

        The same rules and guards as the one-at-a-time methods: an outcome counts only
        while `worker_id` still holds that delivery's lease; the others are logged and
        skipped. Fan-out settles its batches this way instead of one commit per message.
        """
        if not settlements:
            return 0
        now = self._now()
        rest = [s for s in settlements if not settlement.known_delivered(s)]
        if not rest and self._engine.dialect.name == "sqlite":  # a fan-out's usual write
            return await settlement.settle_delivered_in_one_step(
                self._engine, worker_id, now, settlements
            )
        async with write_transaction(self._engine) as conn:
            recorded = await settlement.settle_delivered(conn, worker_id, now, settlements)
            ids = [s.delivery_id for s in rest]
            held = await settlement.held_attempts_many(conn, ids, worker_id) if ids else {}
            rows, deferred = [], []
            for reported in rest:
                holding = held.pop(reported.delivery_id, None)
                if holding is None:
                    self._log_lost(reported.delivery_id, worker_id, reported.outcome)
                elif reported.deferred:
                    deferred.append(settlement.deferred_row(reported, holding, now))
                else:
                    policy, jitter = self.policy(holding.channel), self._jitter
                    rows.append(settlement.settled_row(reported, holding, now, policy, jitter))
            await settlement.settle_many(conn, worker_id, now, rows)
            await requeue.defer_many(conn, worker_id, now, deferred)
        return recorded + len(rows) + len(deferred)

    async def replay(self, delivery_id: int) -> bool:
        """Queue a finished delivery again, now, with a full retry schedule; False if it is
        still queued or in flight (nothing to replay). Its dedup key stays the same."""
        now = self._now()
        async with write_transaction(self._engine) as conn:
            return await requeue.requeue(conn, delivery_id, now)

    async def retry_failed(self, publication_id: int) -> int:
        """Queue a publication's deliveries that failed for good again, now; returns how many.

        Unlike `replay`, their earlier attempts still count towards the retry policy.
        Their dedup keys (Message-ID, webhook-id) stay the same.
        """
        now = self._now()
        async with write_transaction(self._engine) as conn:
            return await requeue.requeue_failed(conn, publication_id, now)

    async def release(self, worker_id: str) -> int:
        """Hand back every delivery leased to `worker_id`, not counted as an attempt."""
        now = self._now()
        async with write_transaction(self._engine) as conn:
            return await leases.release_leases(conn, worker_id, now)

    async def cancel(
        self,
        delivery_ids: Iterable[int] | None = None,
        *,
        recipient: str | None = None,
        channel: str | None = None,
        publication_id: int | None = None,
        campaign_id: str | None = None,
        reason: str = "cancelled",
    ) -> int:
        """Mark matching unsent deliveries `cancelled` so they never go out; returns how many.

        Filters combine; give ids, a recipient, a publication or a campaign (every
        publication of it, not its withdrawals). Deliveries a worker holds
        under a live lease are not interrupted; sent or failed ones are left as they are.
        """
        if (delivery_ids, recipient, publication_id, campaign_id) == (None, None, None, None):
            raise ValueError("cancel needs delivery ids, a recipient, a publication or a campaign")
        conditions = leases.matching(recipient, channel, publication_id, campaign_id)
        now = self._now()
        async with write_transaction(self._engine) as conn:
            return await leases.cancel_matching(conn, conditions, delivery_ids, now, reason)

    async def _settle(
        self,
        delivery_id: int,
        worker_id: str,
        outcome: AttemptOutcome,
        error: str | None,
        values: dict[str, Any],
    ) -> bool:
        now = self._now()
        async with write_transaction(self._engine) as conn:
            settled = await settlement.settle(
                conn, delivery_id, worker_id, now, outcome, error, values
            )
        if not settled:
            self._log_lost(delivery_id, worker_id, outcome)
        return settled

    @staticmethod
    def _log_lost(delivery_id: int, worker_id: str, outcome: AttemptOutcome) -> None:
        log.warning(
            "delivery %s is no longer leased to %s; its outcome %s was not recorded",
            delivery_id,
            worker_id,
            outcome,
        )

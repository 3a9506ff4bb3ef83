"""Delivery workers: claim from the outbox, deliver through the channel, record the outcome."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

from broadcaster.outbox.content import ContentStore
from broadcaster.outbox.jobs import BatchDeliveringChannel, Deliverer, DeliveryJob
from broadcaster.outbox.outbox import Outbox, Settlement
from broadcaster.outbox.outcomes import (
    Deferred,
    DeliveryRejected,
    Outcome,
    RetryLater,
    TechnicalFailure,
    Withdrawn,
)
from broadcaster.outbox.recording import BatchRecorder, Gate
from broadcaster.outbox.records import ClaimedDelivery
from broadcaster.outbox.tables import AttemptOutcome
from broadcaster.outbox.trouble import TroubleLog

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerSettings:
    concurrency: int = 4
    batch: int = 50
    lease: timedelta = timedelta(seconds=60)
    poll_interval: float = 0.5
    # Loops that claim large batches for channels with `deliver_many` (email fan-out);
    # two, so one claims and settles while the other's batch is on the wire.
    bulk_loops: int = 2
    bulk_batch: int = 1000
    # Sends started and not yet recorded, across all batches: what a crash or a store
    # outage can send a second time (8 SMTP connections keep about 16 on the wire).
    unrecorded: int = 48


def settlement(delivery_id: int, outcome: Outcome, attempt: int | None = None) -> Settlement:
    """What the outbox records for one outcome of `deliver_many` (of that `attempt`, when
    known: a delivered one is then written without a read first)."""
    if isinstance(outcome, str):
        return Settlement(delivery_id, AttemptOutcome.DELIVERED, outcome, attempt=attempt)
    if isinstance(outcome, Deferred):
        return Settlement(
            delivery_id, AttemptOutcome.TEMPORARY_FAILURE, str(outcome), outcome.after, True
        )
    if isinstance(outcome, RetryLater):
        return Settlement(
            delivery_id, AttemptOutcome.TEMPORARY_FAILURE, str(outcome), outcome.after
        )
    if isinstance(outcome, Withdrawn):
        return Settlement(delivery_id, AttemptOutcome.CANCELLED, str(outcome))
    if isinstance(outcome, TechnicalFailure):
        return Settlement(delivery_id, AttemptOutcome.TECHNICAL_FAILURE, str(outcome))
    return Settlement(delivery_id, AttemptOutcome.PERMANENT_FAILURE, str(outcome))


class Workers:
    """A pool of delivery loops sharing one outbox; stops gracefully on request."""

    def __init__(
        self,
        outbox: Outbox,
        content: ContentStore,
        channels: Mapping[str, Deliverer],
        settings: WorkerSettings | None = None,
        *,
        observe: Callable[[str, str, float], None] = lambda channel, status, seconds: None,
        trouble: TroubleLog | None = None,
    ) -> None:
        self.outbox = outbox
        self.content = content
        self._bulk: dict[str, BatchDeliveringChannel] = {}
        # Which channels each batch in hand began with (see `let_go`): batches by the
        # number of the channel set, counted up at each replacement.
        self._generation = 0
        self._holding: dict[int, int] = {}
        self._released = asyncio.Event()
        self.channels = channels
        self.settings = settings or WorkerSettings()
        self.observe = observe
        self.trouble = trouble or TroubleLog()
        # One event for the loops that claim batches, one for those that go one by one: a
        # fan-out's batches wake only the former (the others' claims skip its rows).
        self._wake = asyncio.Event()
        self._wake_each = asyncio.Event()
        self._poller: str | None = None  # the idle one-by-one loop that polls
        self._stopping = asyncio.Event()
        self._gate = Gate(self.settings.unrecorded)
        self._tasks: list[asyncio.Task[None]] = []
        self._prefix = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"

    @property
    def channels(self) -> Mapping[str, Deliverer]:
        """The channels deliveries go out on (replaced when the workspace is reloaded)."""
        return self._channels

    @channels.setter
    def channels(self, channels: Mapping[str, Deliverer]) -> None:
        self._channels = channels
        # Picked out once here, not at every claim.
        self._bulk = {
            name: channel
            for name, channel in channels.items()
            if isinstance(channel, BatchDeliveringChannel)
        }
        self._generation += 1

    @contextlib.contextmanager
    def _hold(self) -> Iterator[None]:
        """A batch in hand, counted against the channels in use when it began."""
        generation = self._generation
        self._holding[generation] = self._holding.get(generation, 0) + 1
        try:
            yield
        finally:
            self._holding[generation] -= 1
            if not self._holding[generation]:
                del self._holding[generation]
                self._released.set()
                self._released = asyncio.Event()

    async def let_go(self, within: float) -> bool:
        """Wait until no batch begun before the channels were last replaced is in hand,
        for at most `within` seconds; whether none is. A reload closes the replaced
        channels' connections only then: a fan-out's batch on the wire finishes on the
        connections it started on instead of failing for now, a thousand at a time."""
        current = self._generation
        try:
            async with asyncio.timeout(within):
                while any(generation < current for generation in self._holding):
                    await self._released.wait()
        except TimeoutError:
            return False
        return True

    def wake(self, channels: Collection[str] | None = None) -> None:
        """New work was queued in this process (on `channels`, when known): look now
        instead of at the next poll.

        Each loop takes the current event *before* it claims and waits on that one, and a
        wake sets it and starts a new one: a wake that comes while a loop is claiming (the
        feeds delivery queued just after the website's) is never lost to a later clear().
        Work on batch channels only (a fan-out, a thousand at a time) wakes only the loops
        that claim it: for the others, each look would walk past the whole queued fan-out.
        """
        bulk = self._bulk if self.settings.bulk_loops else {}
        if channels is None or any(name in bulk for name in channels):
            self._wake.set()
            self._wake = asyncio.Event()
        if channels is None or any(name not in bulk for name in channels):
            self._wake_one_by_one()

    def _wake_one_by_one(self) -> None:
        self._wake_each.set()
        self._wake_each = asyncio.Event()

    def start(self) -> None:
        """Start the delivery loops."""
        for index in range(self.settings.concurrency):
            worker_id = f"{self._prefix}:{index}"
            self._tasks.append(asyncio.create_task(self._loop(worker_id), name=worker_id))
        for index in range(self.settings.bulk_loops):
            worker_id = f"{self._prefix}:bulk{index}"
            self._tasks.append(asyncio.create_task(self._bulk_loop(worker_id), name=worker_id))

    def _bulk_limit(self) -> int:
        """Deliveries per batch claim: what every batch channel gets through in its share
        of a lease, at most `bulk_batch`."""
        limits = [self.settings.bulk_batch]
        limits += [channel.batch_limit(self.settings.lease) for channel in self._bulk.values()]
        return max(1, min(limits))

    async def stop(self, grace: float) -> None:
        """Stop claiming, let in-flight deliveries finish for `grace` seconds, release the rest."""
        self._stopping.set()
        self.wake()
        if not self._tasks:
            self.trouble.flush(final=True)
            return
        _, pending = await asyncio.wait(self._tasks, timeout=grace)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for task in self._tasks:
            released = await self.outbox.release(task.get_name())
            if released:
                log.info("released %s deliveries held by %s", released, task.get_name())
        self._tasks.clear()
        self.trouble.flush(final=True)

    async def run_until_idle(self, worker_id: str = "cli") -> int:
        """Deliver everything due now in this task (for `publish --wait`); returns how many."""
        done = 0
        while True:
            # The batch deliveries first, as the bulk loops claim them, then the rest.
            limit, lease = self._bulk_limit(), self.settings.lease
            batch = await self.outbox.claim(worker_id, limit, lease, batch=True)
            if not batch:
                batch = await self.outbox.claim(worker_id, self.settings.batch, lease)
            if not batch:
                return done
            await self._process(worker_id, batch)
            done += len(batch)

    async def _process(self, worker_id: str, batch: Sequence[ClaimedDelivery]) -> None:
        """Deliver a mixed batch: batch-capable channels at once, the others one by one per
        channel, channels side by side (the website rebuild need not wait for the feeds')."""
        with self._hold():
            await self._process_held(worker_id, batch)

    async def _process_held(self, worker_id: str, batch: Sequence[ClaimedDelivery]) -> None:
        bulk = self._bulk
        grouped = [d for d in batch if d.channel in bulk]
        if grouped:
            await self._deliver_many(worker_id, grouped)
        by_channel: dict[str, list[ClaimedDelivery]] = {}
        for delivery in batch:
            if delivery.channel not in bulk:
                by_channel.setdefault(delivery.channel, []).append(delivery)
        await asyncio.gather(*(self._deliver_each(worker_id, d) for d in by_channel.values()))

    async def _deliver_each(self, worker_id: str, deliveries: Sequence[ClaimedDelivery]) -> None:
        for delivery in deliveries:
            try:
                await self._deliver(worker_id, delivery)
            except asyncio.CancelledError:
                raise
            except Exception:
                # Recording the outcome failed (the store is away): the lease runs out
                # and the delivery is claimed again; this worker carries on.
                log.exception("worker %s could not record delivery %s", worker_id, delivery.id)
            if self._stopping.is_set():
                break

    async def _bulk_loop(self, worker_id: str) -> None:
        """Claim the deliveries queued for batch channels, a batch at a time (those of a
        channel a reload removed or changed go one by one, and fail if it is gone)."""
        while not self._stopping.is_set():
            woken = self._wake
            batch: list[ClaimedDelivery] = []
            limit = self._bulk_limit()
            try:
                batch = await self.outbox.claim(worker_id, limit, self.settings.lease, batch=True)
            except Exception:
                log.exception("worker %s could not claim deliveries", worker_id)
            self.trouble.flush()
            if batch:
                await self._process(worker_id, batch)
            else:
                with contextlib.suppress(
                    TimeoutError
                ):  # timeout, not wait_for (3.11 drops cancels)
                    async with asyncio.timeout(self.settings.poll_interval):
                        await woken.wait()

    async def _deliver_many(self, worker_id: str, batch: Sequence[ClaimedDelivery]) -> None:
        """Hand each channel its share of the batch at once; outcomes are recorded as they
        come, a few at a time (recording.py), never more than `unrecorded` sends behind."""
        by_channel: dict[str, list[ClaimedDelivery]] = {}
        for delivery in batch:
            by_channel.setdefault(delivery.channel, []).append(delivery)
        for name, deliveries in by_channel.items():
            await self._deliver_share(worker_id, name, deliveries)

    async def _deliver_share(
        self, worker_id: str, name: str, deliveries: Sequence[ClaimedDelivery]
    ) -> None:
        started = time.perf_counter()
        done = 0

        def recorded(settlements: Sequence[Settlement]) -> None:
            nonlocal done
            done += len(settlements)
            seconds = (time.perf_counter() - started) / max(done, 1)
            for item in settlements:
                self.observe(name, item.outcome.value, seconds)
                if item.outcome is AttemptOutcome.TEMPORARY_FAILURE and not item.deferred:
                    self.trouble.failed(name, item.detail or "")

        channel = self._bulk.get(name)
        jobs = [DeliveryJob(d, self.content) for d in deliveries]
        recorder = BatchRecorder(
            self.outbox,
            worker_id,
            deliveries,
            self._gate,
            stopping=self._stopping,
            recorded=recorded,
            settle=settlement,
        )
        async with recorder:
            try:
                if channel is None:  # a reload removed it since the claim
                    raise LookupError(f"channel '{name}' is not configured or takes no batches")
                await channel.deliver_many(jobs, recorder)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.exception("batch of %s deliveries on %s failed", len(jobs), name)
                failure = TechnicalFailure(f"{type(exc).__name__}: {exc}")
                recorder.fail_unreported(lambda _: failure)

    async def _loop(self, worker_id: str) -> None:
        """Claim and deliver one by one. Of the idle loops only one, the poller, looks
        again every poll interval (each look walks the queue, a queued fan-out included);
        the others wait to be woken. A poller that finds work hands the role on and wakes
        them, as does any loop that finds a full batch (there may be more)."""
        while not self._stopping.is_set():
            woken = self._wake_each
            try:
                batch = await self.outbox.claim(
                    worker_id,
                    self.settings.batch,
                    self.settings.lease,
                    batch=False if self.settings.bulk_loops else None,
                )
            except Exception:
                log.exception("worker %s could not claim deliveries", worker_id)
                batch = []
            polled = self._poller == worker_id
            if batch and polled:
                self._poller = None  # busy now: another idle loop polls
            if batch and (polled or len(batch) >= self.settings.batch):
                self._wake_one_by_one()
            if batch:
                await self._process(worker_id, batch)
            self.trouble.flush()
            if not batch:
                self._poller = self._poller or worker_id
                polls = self._poller == worker_id
                with contextlib.suppress(
                    TimeoutError
                ):  # timeout, not wait_for (3.11 drops cancels)
                    async with asyncio.timeout(self.settings.poll_interval if polls else None):
                        await woken.wait()

    async def _deliver(self, worker_id: str, delivery: ClaimedDelivery) -> None:
        started = time.perf_counter()
        channel = self.channels.get(delivery.channel)
        if channel is None:
            await self.outbox.fail(
                delivery.id,
                worker_id,
                f"channel '{delivery.channel}' is not configured or cannot deliver",
                technical=True,
            )
            self.observe(delivery.channel, "technical-failure", time.perf_counter() - started)
            return
        job = DeliveryJob(delivery, self.content)
        status = "delivered"
        try:
            receipt = await channel.deliver(job)
        except Deferred as exc:
            status = "deferred"
            await self.outbox.settle_many(worker_id, [settlement(delivery.id, exc)])
        except RetryLater as exc:
            status = "temporary-failure"
            self.trouble.failed(delivery.channel, str(exc))
            await self.outbox.retry_later(delivery.id, worker_id, str(exc), exc.after)
        except DeliveryRejected as exc:
            status = "permanent-failure"
            await self.outbox.fail(delivery.id, worker_id, str(exc))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            status = "technical-failure"
            log.exception("delivery %s on %s failed", delivery.id, delivery.channel)
            await self.outbox.fail(
                delivery.id, worker_id, f"{type(exc).__name__}: {exc}", technical=True
            )
        else:
            await self.outbox.complete(delivery.id, worker_id, receipt)
        self.observe(delivery.channel, status, time.perf_counter() - started)

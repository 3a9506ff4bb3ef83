"""Recording a batch's outcomes as they come, so a crash sends again only what was in flight.

A fan-out batch holds up to 1,000 deliveries. Its outcomes are written every `FLUSH_AT`
outcomes or `FLUSH_AFTER` seconds, whichever comes first, and at once when a send waits
for its turn. The `Gate`, one per worker pool and shared by every batch on the way, lets
at most `limit` sends be started and not yet recorded: whatever kills the process or
takes the store away, at most that many messages go out a second time (with the same
Message-ID or webhook-id) when their leases run out and they are claimed again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from broadcaster.outbox.outbox import Outbox, Settlement
from broadcaster.outbox.outcomes import Deferred, Outcome
from broadcaster.outbox.records import ClaimedDelivery

log = logging.getLogger(__name__)

FLUSH_AT = 32  # outcomes that make a write worth it on their own (of the gate's 48)
HURRY_AT = 24  # outcomes worth a write while a send waits for a turn (or none in flight)
FLUSH_AFTER = 0.1  # seconds an outcome waits at most before it is written
RETRY_FIRST, RETRY_MOST = 0.2, 2.0  # back-off between writes while the store is away


class Gate:
    """Turns for sends: at most `limit` started and not yet recorded, across batches."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("the gate needs at least one turn")
        self.limit = limit
        self.free = limit
        self._freed = asyncio.Event()
        self._waiting = 0
        self._recorders: set[BatchRecorder] = set()

    async def take(self, count: int, deadline: float) -> bool:
        """Take `count` turns (at most `limit`) before `deadline` (loop time); False if not."""
        count = min(count, self.limit)
        loop = asyncio.get_running_loop()
        while self.free < count:
            self._waiting += 1
            for recorder in self._recorders:
                recorder.hurry()  # what they hold unwritten holds these turns
            freed = self._freed
            try:
                async with asyncio.timeout_at(deadline):
                    await freed.wait()
            except TimeoutError:
                return False
            finally:
                self._waiting -= 1
            if loop.time() >= deadline:
                return False
        self.free -= count
        return True

    def give(self, count: int) -> None:
        """Hand back `count` turns: their sends are recorded (or will never be)."""
        if count <= 0:
            return
        self.free = min(self.limit, self.free + count)
        self._freed.set()
        self._freed = asyncio.Event()

    @property
    def pressed(self) -> bool:
        """Whether a send is waiting for a turn."""
        return self._waiting > 0


class BatchRecorder:
    """One claimed batch's `Progress`: admits sends through the gate and writes outcomes
    in the background as they come (one writer task per batch)."""

    def __init__(
        self,
        outbox: Outbox,
        worker_id: str,
        batch: Sequence[ClaimedDelivery],
        gate: Gate,
        *,
        stopping: asyncio.Event,
        recorded: Callable[[Sequence[Settlement]], None],
        settle: Callable[[int, Outcome, int], Settlement],
    ) -> None:
        self.outbox = outbox
        self.worker_id = worker_id
        self.batch = batch
        self.gate = gate
        self._stopping = stopping
        self._recorded = recorded
        self._settle = settle
        loop = asyncio.get_running_loop()
        now = datetime.now(UTC)
        lease_ends = min((d.lease_expires_at for d in batch), default=now)
        left = (lease_ends - now).total_seconds()
        self.lease_deadline = loop.time() + left
        # Sends start only while they can end well inside the lease (a quarter kept back).
        self.admit_deadline = loop.time() + 0.75 * left
        self._reported = [False] * len(batch)
        self._holding: set[int] = set()  # indices that took a turn and are not recorded
        self._pending: list[tuple[int, Settlement]] = []
        self._pending_held = 0  # of those, how many hold a turn
        self._first_at = 0.0
        self._nudge = asyncio.Event()
        self._closing = False
        self._writer: asyncio.Task[None] | None = None
        self.unrecorded = 0  # outcomes that could not be written before the lease ran out

    async def __aenter__(self) -> BatchRecorder:
        self.gate._recorders.add(self)
        self._writer = asyncio.create_task(self._write_loop(), name=f"{self.worker_id}:record")
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        try:
            if exc_info[0] is None:
                await self.close()
        finally:
            self.gate._recorders.discard(self)
            if self._writer is not None and not self._writer.done():
                self._writer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._writer
            # Turns of sends whose outcome never got written: the lease decides now.
            self.gate.give(len(self._holding))
            self._holding.clear()

    # -- the channel's side (Progress) ---------------------------------------------------

    async def admit(self, *indices: int) -> bool:
        """Wait for turns to send `jobs[i]` for each index; False: send no more."""
        if self._stopping.is_set() or not indices:
            return not self._stopping.is_set()
        if not await self.gate.take(len(indices), self.admit_deadline):
            return False
        self._holding.update(indices)
        return True

    def report(self, index: int, outcome: Outcome) -> None:
        """Queue the outcome of `jobs[index]` for the next write."""
        if self._reported[index]:
            return
        self._reported[index] = True
        if not self._pending:
            self._first_at = asyncio.get_running_loop().time()
        delivery = self.batch[index]
        settled = self._settle(delivery.id, outcome, delivery.attempt)
        self._pending.append((index, settled))
        self._pending_held += index in self._holding
        if self._ready():
            self._nudge.set()

    def hurry(self) -> None:
        """A send waits for a turn: write soon (see `_ready`)."""
        if self._ready():
            self._nudge.set()

    def _ready(self) -> bool:
        """Whether to write now rather than wait for more outcomes: enough of them, or a
        send waits for a turn and either a good few are pending or none of this batch's
        sends is still on its way (its turns are all held by what is pending)."""
        pending = len(self._pending)
        if pending >= FLUSH_AT or self._closing:
            return True
        if not pending or not self.gate.pressed:
            return False
        return pending >= HURRY_AT or self._pending_held >= len(self._holding)

    def fail_unreported(self, error: Callable[[int], Outcome]) -> None:
        """Report `error(i)` for every job not reported yet (the channel failed)."""
        for index, reported in enumerate(self._reported):
            if not reported:
                self.report(index, error(index))

    async def close(self) -> None:
        """Hand back what was never tried and wait until every outcome is written."""
        again = Deferred("the batch ended before this was sent", timedelta(0))
        self.fail_unreported(lambda _: again)
        self._closing = True
        self._nudge.set()
        if self._writer is not None:
            await self._writer

    # -- the writer ----------------------------------------------------------------------

    async def _write_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self._pending:
                if self._closing:
                    return
                await self._sleep(None)
                continue
            due = self._first_at + FLUSH_AFTER
            if not self._ready() and loop.time() < due:
                await self._sleep(due)
                continue
            self._nudge.clear()
            taken, self._pending, self._pending_held = self._pending, [], 0
            await self._write(taken)

    async def _sleep(self, until: float | None) -> None:
        self._nudge.clear()
        if until is None:
            await self._nudge.wait()
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout_at(until):
                await self._nudge.wait()

    async def _write(self, taken: list[tuple[int, Settlement]]) -> None:
        settlements = [s for _, s in taken]
        pause = RETRY_FIRST
        loop = asyncio.get_running_loop()
        while True:
            try:
                await self.outbox.settle_many(self.worker_id, settlements)
                break
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if loop.time() + pause >= self.lease_deadline:
                    # The leases run out: these are claimed again (same Message-IDs).
                    log.error(
                        "worker %s could not record %s outcomes before its lease ran out: %s",
                        self.worker_id,
                        len(settlements),
                        exc,
                    )
                    self.unrecorded += len(settlements)
                    break
                log.warning(
                    "worker %s could not record %s outcomes (%s); trying again in %.1f s",
                    self.worker_id,
                    len(settlements),
                    exc,
                    pause,
                )
                await asyncio.sleep(pause)
                pause = min(RETRY_MOST, pause * 2)
        freed = [index for index, _ in taken if index in self._holding]
        self._holding.difference_update(freed)
        self.gate.give(len(freed))
        self._recorded(settlements)

"""Delivery workers: claim from the outbox, deliver through the channel, record the outcome."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta

from .channels.base import DeliveryJob, DeliveryRejected, RetryLater
from .outbox import Outbox
from .store.content import ContentStore
from .store.records import ClaimedDelivery

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerSettings:
    concurrency: int = 4
    batch: int = 50
    lease: timedelta = timedelta(seconds=60)
    poll_interval: float = 0.5


class Workers:
    """A pool of delivery loops sharing one outbox; stops gracefully on request."""

    def __init__(
        self,
        outbox: Outbox,
        content: ContentStore,
        channels: Mapping[str, object],
        settings: WorkerSettings | None = None,
        *,
        observe: Callable[[str, str, float], None] = lambda channel, status, seconds: None,
    ) -> None:
        self.outbox = outbox
        self.content = content
        self.channels = channels
        self.settings = settings or WorkerSettings()
        self.observe = observe
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._prefix = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"

    def wake(self) -> None:
        """New work was queued in this process: look now instead of at the next poll."""
        self._wake.set()

    def start(self) -> None:
        """Start the delivery loops."""
        for index in range(self.settings.concurrency):
            worker_id = f"{self._prefix}:{index}"
            self._tasks.append(asyncio.create_task(self._loop(worker_id), name=worker_id))

    async def stop(self, grace: float) -> None:
        """Stop claiming, let in-flight deliveries finish for `grace` seconds, release the rest."""
        self._stopping.set()
        self._wake.set()
        if not self._tasks:
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

    async def run_until_idle(self, worker_id: str = "cli") -> int:
        """Deliver everything due now in this task (for `publish --wait`); returns how many."""
        done = 0
        while batch := await self.outbox.claim(worker_id, self.settings.batch, self.settings.lease):
            for delivery in batch:
                await self._deliver(worker_id, delivery)
                done += 1
        return done

    async def _loop(self, worker_id: str) -> None:
        while not self._stopping.is_set():
            try:
                batch = await self.outbox.claim(worker_id, self.settings.batch, self.settings.lease)
            except Exception:
                log.exception("worker %s could not claim deliveries", worker_id)
                batch = []
            for delivery in batch:
                await self._deliver(worker_id, delivery)
                if self._stopping.is_set():
                    break
            if not batch:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.settings.poll_interval)

    async def _deliver(self, worker_id: str, delivery: ClaimedDelivery) -> None:
        started = time.perf_counter()
        channel = self.channels.get(delivery.channel)
        deliver = getattr(channel, "deliver", None)
        if deliver is None:
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
            receipt = await deliver(job)
        except RetryLater as exc:
            status = "temporary-failure"
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

"""`broadcaster worker`: delivery workers alone, and the extra ones `serve --processes N` runs.

A worker process opens the same store and the same channels as `serve` and claims from the
same outbox (leases in the store), but serves no web and runs no schedule: run it N times
on one host to deliver with N cores. SIGHUP reloads the workspace; SIGTERM or SIGINT stops
claiming, lets deliveries in flight finish within BROADCASTER_SHUTDOWN_TIMEOUT and hands the
rest back to the outbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from broadcaster.publishing.nodes import follow_workspace
from broadcaster.service import open_service
from broadcaster.settings import Settings

log = logging.getLogger(__name__)


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    """uvloop's event loop when installed (as `serve` runs), else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop
    return uvloop.new_event_loop


async def _cancel(tasks: Sequence[asyncio.Task[object]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def work(settings: Settings) -> None:
    """Deliver from the outbox until SIGTERM or SIGINT; reload on SIGHUP."""
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    reloads: set[asyncio.Task[bool]] = set()
    async with open_service(
        settings, schedule=False, deliver=False, settle=True, listen=True
    ) as service:

        def on_hangup() -> None:
            if stopping.is_set():
                return
            log.info("SIGHUP: reloading the workspace")
            task = asyncio.create_task(service.reload(announce=False))
            reloads.add(task)
            task.add_done_callback(reloads.discard)

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stopping.set)
        loop.add_signal_handler(signal.SIGHUP, on_hangup)
        service.workers.start()
        jobs = [
            asyncio.create_task(
                follow_workspace(service.notifications, lambda: service.reload(announce=False)),
                name="follow-workspace",
            ),
        ]
        log.info("delivering from the outbox of %s", settings.root)
        await stopping.wait()
        log.info("stopping: deliveries in flight get %s s", settings.shutdown_timeout)
        await _cancel(jobs)
        await asyncio.gather(*reloads, return_exceptions=True)
    # Leaving open_service stopped the workers (within the shutdown timeout) and closed
    # the channels and the store.


def run_worker(settings: Settings) -> None:
    """Run `work` on uvloop until it stops."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        runner.run(work(settings))


@contextlib.contextmanager
def extra_workers(root: Path, count: int, grace: float) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Start `count` `broadcaster worker` children with this environment; on exit send them
    SIGTERM and wait for them (`grace` seconds, then SIGKILL)."""
    start = "from broadcaster.cli.main import main; main()"
    command = [sys.executable, "-c", start, "worker", "--root", str(root)]
    children: list[subprocess.Popen[bytes]] = []
    try:
        for _ in range(count):
            children.append(subprocess.Popen(command, stdin=subprocess.DEVNULL))  # noqa: S603
        yield children
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(grace)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()

"""Writing builds to disk in the background: the newest one, when the builders are done."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

from broadcaster.site.folders import Unchanged


async def _at_once() -> None:
    return None


class LatestWriter:
    """Writes the newest build submitted to disk, one write at a time (latest wins).

    `write(files, unchanged)` gets what this writer wrote last (the build folder and the
    paths whose bytes are the very same objects now), so files that did not change can be
    hard-linked from it instead of written again.

    Each write first awaits `quiet()`: the build is already served from memory, and a
    write thread running while the other builder renders would slow that builder down
    (the thread takes the GIL in turns), which is what a reader waits for.
    """

    def __init__(
        self,
        write: Callable[[dict[str, bytes], Unchanged | None], Path],
        quiet: Callable[[], Awaitable[None]] = _at_once,
    ) -> None:
        self.write = write
        self.quiet = quiet
        self.last: tuple[Path, dict[str, bytes]] | None = None
        self.pending: dict[str, bytes] | None = None
        self.waiters: list[asyncio.Future[Path]] = []
        self.task: asyncio.Task[None] | None = None

    @property
    def busy(self) -> bool:
        """A build is waiting to be written or being written."""
        return self.task is not None and not self.task.done()

    def submit(self, files: dict[str, bytes]) -> asyncio.Future[Path]:
        """Write `files` (or a newer build submitted before this one is written)."""
        future: asyncio.Future[Path] = asyncio.get_running_loop().create_future()
        self.pending = files
        self.waiters.append(future)
        if not self.busy:
            self.task = asyncio.create_task(self._run())
        return future

    async def _run(self) -> None:
        while self.pending is not None:
            await self.quiet()
            files, waiters = self.pending, self.waiters
            self.pending, self.waiters = None, []
            unchanged = None
            if self.last is not None:
                folder, before = self.last
                same = frozenset(p for p, data in files.items() if before.get(p) is data)
                unchanged = Unchanged(folder, same)
            try:
                build = await asyncio.to_thread(self.write, files, unchanged)
                self.last = (build, files)
            except Exception as exc:
                for waiter in waiters:
                    if not waiter.done():
                        waiter.set_exception(exc)
            else:
                for waiter in waiters:
                    if not waiter.done():
                        waiter.set_result(build)

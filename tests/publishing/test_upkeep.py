"""Keeping the site current stops when told to, even as the site changes at that moment."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from broadcaster.publishing.upkeep import PublicUpkeep


class ChangingSite:
    """The one thing the upkeep waits on: the site's next rebuild."""

    def __init__(self) -> None:
        self.rebuilt = asyncio.Event()

    async def changed(self) -> None:
        self.rebuilt.clear()
        await self.rebuilt.wait()


async def test_a_stop_that_comes_with_a_rebuild_still_stops_the_upkeep() -> None:
    # SIGINT right after SIGHUP: the reload's rebuild and the stop reach the upkeep together.
    # On Python 3.11 asyncio.wait_for returned the rebuild and dropped the cancellation, so
    # `serve` waited for this task forever.
    site = ChangingSite()
    upkeep = PublicUpkeep(dict, cast(Any, site), cast(Any, None), cast(Any, None))
    for _ in range(20):
        task = asyncio.create_task(upkeep.keep_public_current())
        await asyncio.sleep(0.01)  # waiting for the next rebuild
        site.rebuilt.set()
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=2)
        assert task in done, "the upkeep kept running after it was cancelled"
        assert task.cancelled()

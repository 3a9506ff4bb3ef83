"""A per-channel send rate: `rate_per_second` messages a second at most (0 = unlimited)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class RateLimit:
    """Spaces sends evenly, 1/rate seconds apart, across every task that shares it."""

    def __init__(self, per_second: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_second = per_second
        self._clock = clock
        self._next = 0.0

    async def wait(self) -> None:
        """Return when the next message may go."""
        if self.per_second <= 0:
            return
        now = self._clock()
        slot = max(self._next, now)
        self._next = slot + 1.0 / self.per_second
        if slot > now:
            await asyncio.sleep(slot - now)

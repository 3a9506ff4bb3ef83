"""Retry policies: how often, and how far apart, a temporarily failing delivery is tried."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, or a fixed `schedule` of waits with some jitter.

    With a schedule, attempt n (1-based) that fails temporarily waits about `schedule[n-1]`
    (within +/- `spread` of it) before attempt n+1; there are len(schedule) + 1 attempts.
    """

    max_attempts: int = 8
    base: timedelta = timedelta(seconds=30)
    cap: timedelta = timedelta(hours=2)
    schedule: tuple[timedelta, ...] = ()
    spread: float = 0.1

    @classmethod
    def from_schedule(cls, waits: Sequence[timedelta], spread: float = 0.1) -> RetryPolicy:
        """A policy that waits `waits[0]`, then `waits[1]`, ... between attempts."""
        return cls(max_attempts=len(waits) + 1, schedule=tuple(waits), spread=spread)

    def delay(self, attempt: int, jitter: float, retry_after: timedelta | None = None) -> timedelta:
        """How long to wait after failed `attempt` (1-based); `jitter` is uniform in 0..1.

        Exponential: `jitter` of min(cap, base*2^n). A `Retry-After` from the remote side is
        a floor, even above the cap or the schedule.
        """
        if self.schedule:
            wait = self.schedule[min(max(attempt, 1), len(self.schedule)) - 1]
            delay = wait * (1 - self.spread + 2 * self.spread * jitter)
        else:
            exponent = min(max(attempt - 1, 0), 64)
            ceiling = min(self.cap.total_seconds(), self.base.total_seconds() * 2.0**exponent)
            delay = timedelta(seconds=ceiling * jitter)
        return delay if retry_after is None else max(delay, retry_after)

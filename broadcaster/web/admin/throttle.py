"""Sign-in throttling per client address and account, and failed sign-ins in the audit log.

Wrong passwords slow down only the address they come from, for the account they tried: the
first FREE_FAILURES cost nothing, each later one doubles the wait before that address may try
that account again (2 s, 4 s, 8 s ... up to 15 minutes); a right password clears it. So
somebody guessing from one place cannot lock the real person out from another. An IPv6
address counts by its /64 (one subscriber's network). Each address also has a budget of
attempts over every account (ADDRESS_RATE), against trying many names.

Failed and throttled sign-ins do not write one audit row each (a script would fill the log):
per address and account, the first of a 15-minute window is written at once, and the rest
of the window as one row with counts when it ends (at the next sign-in attempt or audit
read after that, or at shutdown). State is per process, like the other rate limits.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from ipaddress import IPv6Address, ip_address, ip_network
from typing import Any

from aiohttp import web

from broadcaster.staff.audit import AuditLog
from broadcaster.web.ratelimit import Rate, RateLimiter

FREE_FAILURES = 5
FIRST_DELAY = 2.0
MAX_DELAY = 900.0
FORGET_AFTER = 24 * 3600.0  # failures older than this no longer count
ADDRESS_RATE = Rate(30, 900)  # attempts from one address over every account
WINDOW = 900.0  # the audit log gets at most two rows per address and account per window
MAX_KEYS = 10_000
ANY = "*"  # the audit actor for attempts counted for the address, not one account


@dataclass
class _Failures:
    count: int = 0
    until: float = 0.0  # no attempt before this
    last: float = 0.0


@dataclass
class _Tally:
    started: float
    started_at: str  # wall clock, for the row
    failed: int = 0
    throttled: int = 0


@dataclass
class _Row:
    actor: str
    action: str
    ip: str
    detail: dict[str, Any] = field(default_factory=dict)


def address_key(ip: str) -> str:
    """The address a throttle counts: an IPv6 address by its /64."""
    try:
        parsed = ip_address(ip)
    except ValueError:
        return ip
    if isinstance(parsed, IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


def _utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class Throttle:
    """Growing delays per (address, account), a budget per address, tallies for the audit."""

    def __init__(
        self,
        *,
        free: int = FREE_FAILURES,
        first_delay: float = FIRST_DELAY,
        max_delay: float = MAX_DELAY,
        address: Rate = ADDRESS_RATE,
        window: float = WINDOW,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], str] = _utc_now,
    ) -> None:
        self.free, self.first_delay, self.max_delay = free, first_delay, max_delay
        self.window = window
        self.clock, self.wall = clock, wall
        self.address = RateLimiter(address, clock=lambda: self.clock(), max_keys=MAX_KEYS)
        self._failures: dict[tuple[str, str], _Failures] = {}
        self._tallies: dict[tuple[str, str], _Tally] = {}
        self._rows: list[_Row] = []
        self._sweep_at = 0.0
        self.audit: AuditLog | None = None  # remembered for the flush at shutdown

    def wait(self, name: str, ip: str) -> int:
        """0 when this attempt may go ahead, else whole seconds until it may (counted)."""
        key = (address_key(ip), name[:80])
        now = self.clock()
        found = self._failures.get(key)
        if found is not None and found.until > now:
            self._tally(key, throttled=True)
            return max(1, math.ceil(found.until - now))
        wait = self.address.take(key[0])
        if wait:
            self._tally((key[0], ANY), throttled=True)
        return wait

    def failed(self, name: str, ip: str) -> None:
        """A wrong password (or unknown account) from `ip` for `name`."""
        key = (address_key(ip), name[:80])
        now = self.clock()
        found = self._failures.get(key)
        if found is None or now - found.last > FORGET_AFTER:
            if len(self._failures) >= MAX_KEYS:
                self._forget(now)
            found = self._failures[key] = _Failures()
        found.count += 1
        found.last = now
        if found.count >= self.free:
            delay = self.first_delay * 2 ** (found.count - self.free)
            found.until = now + min(self.max_delay, delay)
        self._tally(key, throttled=False)

    def succeeded(self, name: str, ip: str) -> None:
        """The right password: that address starts afresh for that account."""
        self._failures.pop((address_key(ip), name[:80]), None)

    def _forget(self, now: float) -> None:
        old = [k for k, f in self._failures.items() if f.until <= now]
        for key in old:
            del self._failures[key]
        if len(self._failures) >= MAX_KEYS:
            self._failures.clear()  # a flood from everywhere: start afresh, stay bounded

    # --- the audit log ---------------------------------------------------------------------

    def _tally(self, key: tuple[str, str], *, throttled: bool) -> None:
        now = self.clock()
        self._close(now, everything=False)
        tally = self._tallies.get(key)
        if tally is None:
            if len(self._tallies) >= MAX_KEYS:
                key = (ANY, ANY)  # too many at once: fold the rest together
                tally = self._tallies.get(key)
            if tally is None:
                self._tallies[key] = _Tally(now, self.wall())
                action = "login.throttled" if throttled else "login.failed"
                detail = {"throttled" if throttled else "failed": 1}
                self._rows.append(_Row(key[1] or "?", action, key[0], detail))
                return
        if throttled:
            tally.throttled += 1
        else:
            tally.failed += 1

    def _close(self, now: float, *, everything: bool) -> None:
        """Turn windows that ended into rows (every window, at shutdown)."""
        if not everything and now < self._sweep_at:
            return
        self._sweep_at = now + 1.0
        ended = [
            k for k, t in self._tallies.items() if everything or now - t.started >= self.window
        ]
        for key in ended:
            tally = self._tallies.pop(key)
            if tally.failed or tally.throttled:
                action = "login.failed" if tally.failed else "login.throttled"
                detail = {
                    "failed": tally.failed,
                    "throttled": tally.throttled,
                    "since": tally.started_at,
                    "until": self.wall(),
                }
                self._rows.append(_Row(key[1] or "?", action, key[0], detail))

    async def write(self, audit: AuditLog, *, everything: bool = False) -> None:
        """Write the rows due to the audit log."""
        self.audit = audit
        self._close(self.clock(), everything=everything)
        rows, self._rows = self._rows, []
        for row in rows:
            await audit.record(row.actor, row.action, ip=row.ip, detail=row.detail)


THROTTLE = web.AppKey("admin_throttle", Throttle)


async def flush_on_shutdown(app: web.Application) -> None:
    """Write what the throttle still holds for the audit log (an on_shutdown signal)."""
    throttle = app[THROTTLE]
    if throttle.audit is not None:
        await throttle.write(throttle.audit, everything=True)

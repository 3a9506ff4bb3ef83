"""In-memory token buckets, one per key (a client network, an email address).

A client's key is its IPv4 address, or the /64 network of its IPv6 address: one IPv6
subscriber line is usually given a whole /64, so a single host could otherwise take a new
address for every request.

Per process: several processes behind a load balancer each allow the full rate. That is
enough to stop a script from mail-bombing one address or filling the list from one host;
a shared limit would need the store.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

IPV6_PREFIX = 64  # the IPv6 addresses that count as one client


def client_key(address: str | None) -> str:
    """The rate limit key of a client address: an IPv4 address, or an IPv6 /64 network."""
    if not address:
        return "unknown"
    try:
        parsed = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, IPV6_PREFIX), strict=False))
    return str(parsed)


@dataclass(frozen=True)
class Rate:
    """`burst` requests at once, refilled evenly to `burst` per `period` seconds."""

    burst: int
    period: float

    @property
    def per_second(self) -> float:
        return self.burst / self.period


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Token buckets by key; `take` answers how long to wait, or 0 when the request may pass."""

    def __init__(
        self,
        rate: Rate,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        if rate.burst < 1 or rate.period <= 0:
            raise ValueError(f"a rate needs burst >= 1 and period > 0, not {rate}")
        self.rate = rate
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: dict[str, _Bucket] = {}

    def take(self, key: str) -> int:
        """Spend one token of `key`'s bucket: 0 when allowed, else whole seconds to wait."""
        now = self.clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_keys:
                self._forget_full(now)
            bucket = self._buckets[key] = _Bucket(float(self.rate.burst), now)
        else:
            elapsed = max(0.0, now - bucket.updated)
            bucket.tokens = min(
                float(self.rate.burst), bucket.tokens + elapsed * self.rate.per_second
            )
            bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0
        return max(1, math.ceil((1.0 - bucket.tokens) / self.rate.per_second))

    def _forget_full(self, now: float) -> None:
        """Drop buckets that have refilled (they hold nothing a new bucket would not)."""
        refill = self.rate.period
        stale = [key for key, b in self._buckets.items() if now - b.updated >= refill]
        for key in stale:
            del self._buckets[key]
        if len(self._buckets) >= self.max_keys:
            # Still full of active keys (a flood from many sources): start afresh rather
            # than grow without bound; the cost is a few extra requests let through.
            self._buckets.clear()

    def __len__(self) -> int:
        return len(self._buckets)

"""Prometheus metrics, in a registry of the service's own (no global state)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# The outbox is counted at most this often (Prometheus scrapes every 15 s by default).
DELIVERY_COUNTS_TTL = 10.0


class _Snapshot(Collector):
    """Values read at scrape time: queued deliveries by status, next fire times."""

    def __init__(self) -> None:
        self.deliveries: Mapping[tuple[str, str], int] = {}
        self.next_fire: Callable[[], Mapping[str, datetime | None]] = dict

    def collect(self):  # type: ignore[no-untyped-def]
        by_status = GaugeMetricFamily(
            "broadcaster_deliveries",
            "Deliveries in the outbox by channel and status.",
            labels=["channel", "status"],
        )
        for (channel, status), count in sorted(self.deliveries.items()):
            by_status.add_metric([channel, status], count)
        yield by_status
        next_fire = GaugeMetricFamily(
            "broadcaster_schedule_next_fire_timestamp_seconds",
            "When each schedule fires next (Unix time).",
            labels=["schedule"],
        )
        for schedule, moment in sorted(self.next_fire().items()):
            if moment is not None:
                next_fire.add_metric([schedule], moment.timestamp())
        yield next_fire


class Metrics:
    """The service's metrics; `render()` gives the Prometheus text format."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.publications = Counter(
            "broadcaster_publications",
            "Publications created by this process.",
            ["source"],
            registry=self.registry,
        )
        self.delivered = Counter(
            "broadcaster_delivery_outcomes",
            "Delivery attempts finished by this process, by channel and outcome.",
            ["channel", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "broadcaster_delivery_seconds",
            "Time to carry out one delivery attempt.",
            ["channel"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=self.registry,
        )
        self.up = Gauge("broadcaster_up", "1 while the service runs.", registry=self.registry)
        self.up.set(1)
        self.snapshot = _Snapshot()
        self.registry.register(self.snapshot)
        self._counted_at: float | None = None
        self._counting = asyncio.Lock()

    async def refresh_deliveries(
        self, count: Callable[[], Awaitable[Mapping[tuple[str, str], int]]]
    ) -> None:
        """Update deliveries by channel and status with `count`, at most every
        DELIVERY_COUNTS_TTL seconds and once at a time: the count reads the whole outbox
        (millions of rows after a few big list publications), and anyone can scrape."""
        async with self._counting:
            now = time.monotonic()
            if self._counted_at is None or now - self._counted_at >= DELIVERY_COUNTS_TTL:
                self.snapshot.deliveries = await count()
                self._counted_at = now

    def count_publication(self, source: str) -> None:
        """Count one publication created here, by its source (schedule, cli, admin)."""
        self.publications.labels(source).inc()

    def observe_delivery(self, channel: str, status: str, seconds: float) -> None:
        """Record one finished delivery attempt."""
        self.delivered.labels(channel, status).inc()
        self.latency.labels(channel).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)

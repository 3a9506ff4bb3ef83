"""Dashboard charts drawn on the server as SVG (no script, nothing from elsewhere).

Deliveries per channel and subscriber confirmations and unsubscribes, per local day (the
last 14 days) or per local hour (the last 24 hours); each chart also has its numbers as a
table for screen readers and for reading exact values.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from broadcaster.web.admin.localtime import LocalTime

SPANS = {"day": (14, timedelta(days=1)), "hour": (24, timedelta(hours=1))}
COLOURS = ("#0b3d91", "#b35900", "#2e7d32", "#8e24aa", "#00737a", "#c62828", "#5d4037")
WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 720, 240, 44, 28, 8


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    colour: str
    title: str


@dataclass(frozen=True)
class Chart:
    """What the template draws: bars, axis labels, a legend, and the same numbers as a table."""

    title: str
    bars: list[Bar] = field(default_factory=list)
    x_labels: list[tuple[float, str]] = field(default_factory=list)
    y_labels: list[tuple[float, str]] = field(default_factory=list)
    legend: list[tuple[str, str]] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    rows: list[tuple[str, list[int]]] = field(default_factory=list)
    baseline: float = HEIGHT - BOTTOM
    width: int = WIDTH
    height: int = HEIGHT

    @property
    def empty(self) -> bool:
        """Nothing happened in the span."""
        return not any(sum(values) for _, values in self.rows)


@dataclass(frozen=True)
class Buckets:
    """The span's buckets (local days or hours), oldest first."""

    starts: list[datetime]
    step: timedelta
    label: Callable[[datetime], str]

    @classmethod
    def of(cls, span: str, clock: LocalTime, now: datetime) -> Buckets:
        """The last 14 local days, or the last 24 hours."""
        count, step = SPANS.get(span, SPANS["day"])
        local = now.astimezone(clock.zone)
        if step == timedelta(days=1):
            last = local.replace(hour=0, minute=0, second=0, microsecond=0)
            starts = [(last - step * i) for i in reversed(range(count))]
            return cls(starts, step, clock.day)
        last = local.replace(minute=0, second=0, microsecond=0)
        starts = [(last - step * i) for i in reversed(range(count))]
        return cls(starts, step, lambda t: t.astimezone(clock.zone).strftime("%H:00"))

    def index(self, moment: datetime) -> int | None:
        """Which bucket `moment` falls in (None: outside the span)."""
        for i, start in enumerate(self.starts):
            if start <= moment < start + self.step:
                return i
        return None

    def count(self, points: Sequence[tuple[datetime, int]]) -> list[int]:
        """Sum `points` (time, count) into the buckets."""
        totals = [0] * len(self.starts)
        for moment, n in points:
            i = self.index(moment)
            if i is not None:
                totals[i] += n
        return totals


def deliveries_chart(
    title: str, rows: Sequence[tuple[str, datetime, int]], buckets: Buckets
) -> Chart:
    """Stacked bars: deliveries delivered per bucket, one colour per channel."""
    channels = sorted({channel for channel, _, _ in rows})
    series = {
        name: buckets.count([(at, n) for channel, at, n in rows if channel == name])
        for name in channels
    }
    colours = {name: COLOURS[i % len(COLOURS)] for i, name in enumerate(channels)}
    top = max([sum(v[i] for v in series.values()) for i in range(len(buckets.starts))] + [1])
    scale = (HEIGHT - BOTTOM - TOP) / _nice(top)
    slot = (WIDTH - LEFT) / len(buckets.starts)
    bars = []
    for i, start in enumerate(buckets.starts):
        y = float(HEIGHT - BOTTOM)
        for name in channels:
            n = series[name][i]
            if n:
                h = n * scale
                y -= h
                label = f"{buckets.label(start)}: {name} {n}"
                bars.append(Bar(LEFT + i * slot + 2, y, slot - 4, h, colours[name], label))
    return Chart(
        title,
        bars,
        _x_labels(buckets, slot),
        _y_labels(_nice(top), scale, HEIGHT - BOTTOM),
        [(name, colours[name]) for name in channels],
        channels,
        [
            (buckets.label(s), [series[c][i] for c in channels])
            for i, s in enumerate(buckets.starts)
        ],
    )


def subscribers_chart(
    title: str,
    changes: Mapping[str, Sequence[tuple[datetime, int]]],
    buckets: Buckets,
    names: tuple[str, str],
) -> Chart:
    """Confirmations as bars above the middle line, unsubscribes below it."""
    up = buckets.count(changes.get("confirmed", []))
    down = buckets.count(changes.get("unsubscribed", []))
    top = _nice(max([*up, *down, 1]))
    middle = TOP + (HEIGHT - BOTTOM - TOP) / 2
    scale = (middle - TOP) / top
    slot = (WIDTH - LEFT) / len(buckets.starts)
    bars = []
    for i, start in enumerate(buckets.starts):
        x = LEFT + i * slot + 2
        if up[i]:
            title_up = f"{buckets.label(start)}: {names[0]} {up[i]}"
            bars.append(
                Bar(x, middle - up[i] * scale, slot - 4, up[i] * scale, COLOURS[2], title_up)
            )
        if down[i]:
            title_down = f"{buckets.label(start)}: {names[1]} {down[i]}"
            bars.append(Bar(x, middle, slot - 4, down[i] * scale, COLOURS[5], title_down))
    y_labels = [(middle - top * scale, str(top)), (middle, "0"), (middle + top * scale, str(top))]
    return Chart(
        title,
        bars,
        _x_labels(buckets, slot),
        y_labels,
        [(names[0], COLOURS[2]), (names[1], COLOURS[5])],
        list(names),
        [(buckets.label(s), [up[i], down[i]]) for i, s in enumerate(buckets.starts)],
        baseline=middle,
    )


def _nice(top: int) -> int:
    """A round upper bound for the axis: 1, 2, 5, 10, 20, 50 ..."""
    bound = 1
    while True:
        for factor in (1, 2, 5):
            if bound * factor >= top:
                return bound * factor
        bound *= 10


def _x_labels(buckets: Buckets, slot: float) -> list[tuple[float, str]]:
    every = max(1, len(buckets.starts) // 7)
    return [
        (LEFT + (i + 0.5) * slot, buckets.label(s))
        for i, s in enumerate(buckets.starts)
        if i % every == 0
    ]


def _y_labels(top: int, scale: float, base: float) -> list[tuple[float, str]]:
    """0, the top and, when it is a whole number, the middle."""
    marks = [0, top // 2, top] if top % 2 == 0 else [0, top]
    return [(base - value * scale, str(value)) for value in marks]

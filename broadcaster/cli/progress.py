"""Progress of long commands on stderr: a bar with the count and the rate on a terminal
(rich), and a quiet line every few seconds (plus one at the end) when not on a terminal,
so that logs of cron jobs and CI stay short; work done within those seconds says nothing."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

# How often a line is written when not on a terminal.
QUIET_EVERY = 5.0


class RateColumn(ProgressColumn):
    """Items a second, as rich measures them."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:,.0f}/s", style="progress.data.speed")


def rate(done: int, seconds: float) -> str:
    """`done` over `seconds` as `N/s` (`-` when too short to say)."""
    return f"{done / seconds:,.0f}/s" if seconds > 0 else "-"


class Meter:
    """How far a long command got: `advance` by some items, or `update` to a count."""

    def __init__(
        self,
        label: str,
        total: int | None = None,
        *,
        stream: TextIO | None = None,
        terminal: bool | None = None,
        every: float = QUIET_EVERY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label = label
        self.total = total
        self.done = 0
        self.stream = stream if stream is not None else sys.stderr
        self.terminal = self.stream.isatty() if terminal is None else terminal
        self.every = every
        self.clock = clock
        self.started = clock()
        self._said = self.started
        self._bar: Progress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> Meter:
        self.started = self._said = self.clock()
        if self.terminal:
            console = Console(file=self.stream, force_terminal=True)
            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                RateColumn(),
                TimeElapsedColumn(),
                console=console,
            )
            self._bar.start()
            self._task = self._bar.add_task(self.label, total=self.total)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.stop()
            return
        elapsed = self.clock() - self.started
        if kind is None and self.done and elapsed >= self.every:  # short work stays silent
            self._say(f"{self.done:,} done in {elapsed:.1f} s ({rate(self.done, elapsed)})")

    @property
    def seconds(self) -> float:
        """Time since the meter started."""
        return self.clock() - self.started

    def set_total(self, total: int) -> None:
        """The count the work will come to, once known."""
        self.total = total
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, total=total)

    def advance(self, count: int = 1) -> None:
        """`count` more items are done."""
        self.update(self.done + count)

    def update(self, done: int) -> None:
        """`done` items are done so far."""
        self.done = done
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, completed=done)
            return
        now = self.clock()
        if now - self._said >= self.every:
            of = f"/{self.total:,}" if self.total is not None else ""
            self._say(f"{done:,}{of} ({rate(done, now - self.started)})")

    def _say(self, what: str) -> None:
        self._said = self.clock()
        print(f"{self.label}: {what}", file=self.stream, flush=True)

"""What the website and feeds are built from, read once for every builder that asks at once."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from broadcaster.outbox.content import ContentStore
from broadcaster.text.render import Publication


class WithdrawnAt(Protocol):
    """What the site needs of a withdrawal: when it happened."""

    @property
    def at(self) -> datetime: ...


@dataclass(frozen=True)
class StoreState:
    """One read of the store: per channel, the newest publication of each campaign that went
    out on it (by campaign id); and campaign id -> its withdrawal."""

    publications: Mapping[str, list[Publication]]
    withdrawals: Mapping[str, WithdrawnAt]

    def withdrawn_at(self, publications: list[Publication]) -> dict[str, datetime]:
        """Campaign id -> when it was withdrawn, for campaigns not published again since."""
        gone = self.withdrawals
        return {
            p.campaign.id: gone[p.campaign.id].at
            for p in publications
            if p.campaign.id in gone and gone[p.campaign.id].at >= p.published_at
        }


async def _no_withdrawals() -> Mapping[str, WithdrawnAt]:
    return {}


class StateReader:
    """Reads `StoreState` for the site and feed builders, one read per wave of requests.

    A request joins the read that has not started yet, or starts one on the next turn of
    the loop; so the website and feeds builders that one claim started read the store
    once, and every read a request gets began after that request (it sees everything
    committed before it). Snapshots never change: each is parsed once per workspace, and
    a snapshot seen before gives the same Publication object as before, which is what lets
    the builders reuse their earlier work.
    """

    def __init__(self, content: ContentStore, parse: Callable[[str], Publication]) -> None:
        self.content = content
        self.parse = parse
        self.withdrawals: Callable[[], Awaitable[Mapping[str, WithdrawnAt]]] = _no_withdrawals
        self.last: StoreState | None = None  # the newest state read
        self.reads = 0  # how many store reads were made (tests and metrics)
        self._parsed: dict[int, Publication] = {}
        self._channels: set[str] = set()
        self._next: asyncio.Future[StoreState] | None = None
        self._running: set[asyncio.Task[None]] = set()

    def forget(self) -> None:
        """Parse every snapshot again from now on (a new workspace: topics are named anew)."""
        self._parsed = {}
        self._channels = set()
        self.last = None

    def remember(self, publication_id: int, snapshot: str) -> None:
        """A publication this process has just stored: parsed now, not read back later."""
        if publication_id not in self._parsed:
            self._parsed[publication_id] = self.parse(snapshot)

    async def read(self, channel: str) -> StoreState:
        """The store as read after this call, with `channel` in it."""
        self._channels.add(channel)
        if self._next is None:
            loop = asyncio.get_running_loop()
            self._next = loop.create_future()
            loop.call_soon(self._start)
        return await asyncio.shield(self._next)

    async def latest(self, channel: str) -> list[Publication]:
        """`channel`'s publications in the newest state read, reading only if there is none."""
        state = self.last
        if state is None or channel not in state.publications:
            state = await self.read(channel)
        return state.publications[channel]

    async def idle(self) -> None:
        """Wait for reads in flight (before the store is closed)."""
        while self._running:
            with contextlib.suppress(Exception):
                await asyncio.gather(*self._running)

    def _start(self) -> None:
        future, self._next = self._next, None
        if future is None:
            return
        task = asyncio.create_task(self._read(sorted(self._channels), future))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _read(self, channels: list[str], future: asyncio.Future[StoreState]) -> None:
        try:
            state = await self._state(channels)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:
            if not future.done():
                future.set_exception(exc)
        else:
            if not future.done():
                future.set_result(state)

    async def _state(self, channels: list[str]) -> StoreState:
        self.reads += 1
        by_channel, withdrawals = await asyncio.gather(
            self.content.latest_snapshot_ids_by_channel(channels), self.withdrawals()
        )
        wanted = {i for ids in by_channel.values() for i in ids}
        while True:
            parsed = self._parsed
            missing = wanted - parsed.keys()
            if not missing:
                break
            texts = await self.content.snapshots(missing)
            if self._parsed is not parsed:
                continue  # forget() ran meanwhile: parse for the new workspace
            for i, text in texts.items():
                if i not in parsed:  # another read may have parsed it meanwhile: keep that
                    parsed[i] = self.parse(text)
            break
        publications = {
            channel: [parsed[i] for i in ids if i in parsed] for channel, ids in by_channel.items()
        }
        if len(parsed) > 2 * len(wanted) + 64:  # forget those that are no longer newest
            self._parsed = {i: parsed[i] for i in wanted if i in parsed}
        state = StoreState(publications, withdrawals)
        self.last = state
        return state

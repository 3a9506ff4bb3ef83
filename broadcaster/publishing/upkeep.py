"""Keeping the website and feeds current: built from the store when deliveries are queued
here, when a campaign starts or expires, and when another host delivered newer ones."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta

from broadcaster.channels import Channel
from broadcaster.channels.base import PublicChannel
from broadcaster.outbox.content import ContentStore
from broadcaster.site.public import PublicSite
from broadcaster.staff.reviews import ReviewStore
from broadcaster.store.notify import PUBLIC, Notifications

log = logging.getLogger(__name__)

# The site is checked at least this often for campaigns starting or expiring.
REFRESH_CEILING = timedelta(hours=1)
# While word of other hosts' deliveries arrives (NOTIFY), the store is still read this often.
QUIET_SECONDS = 60.0


class PublicUpkeep:
    """Keeps the website and feeds built from the store: when deliveries are queued here,
    when a campaign starts or expires, and when another host delivered newer ones."""

    def __init__(
        self,
        channels: Callable[[], Mapping[str, Channel]],
        public: PublicSite,
        content: ContentStore,
        reviews: ReviewStore,
    ) -> None:
        # The channels in use now (a reload replaces them).
        self.channels = channels
        self.public = public
        self.content = content
        self.reviews = reviews

    async def refresh_public(self) -> None:
        """Rebuild the website and feeds from the store (start, reload, expiry times)."""
        for channel in self.channels().values():
            if isinstance(channel, PublicChannel):
                await channel.rebuild()

    async def queued(self, names: Sequence[str]) -> None:
        """Deliveries on channels `names` were just queued here: rebuild the website and
        feeds now, not once a worker has claimed them (their delivery then finds them so).
        Returns once the store read of those rebuilds is done: the workers, woken next,
        would otherwise keep the loop busy with their claims while it is made."""
        public: list[PublicChannel] = []
        for name in names:
            if isinstance(found := self.channels().get(name), PublicChannel):
                public.append(found)
        for channel in sorted(public, key=lambda c: c.rebuild_order):
            self.public.prebuild(channel.rebuild())
        if public:
            with contextlib.suppress(Exception):  # the rebuilds log it; the delivery retries
                await self.public.state.read(public[0].name)

    async def next_public_change(self) -> datetime | None:
        """When a campaign on the website or in the feeds next starts or expires."""
        moments = [
            await self.public.next_change(channel.name)
            for channel in self.channels().values()
            if isinstance(channel, PublicChannel)
        ]
        return min((m for m in moments if m is not None), default=None)

    async def follow_store(
        self, notifications: Notifications | None = None, interval: float = 2.0
    ) -> None:
        """Rebuild when another host delivered a newer website or feeds publication: at
        once on its word (PostgreSQL NOTIFY), else by looking every `interval` seconds."""
        names = [
            channel.name
            for channel in self.channels().values()
            if isinstance(channel, PublicChannel)
        ]
        seen = await self._public_state(names)
        looked = time.monotonic()
        while True:
            if notifications is not None and notifications.listening:
                heard = await notifications.wait(PUBLIC, interval)
                if not heard and time.monotonic() - looked < QUIET_SECONDS:
                    continue  # no word, and listening: nothing new to read
            else:
                await asyncio.sleep(interval)
            looked = time.monotonic()
            try:
                latest = await self._public_state(names)
                if latest != seen:
                    seen = latest
                    await self.refresh_public()
            except Exception:
                log.exception("could not check the store for newer publications")

    async def _public_state(self, names: list[str]) -> tuple[tuple[int, int | None], int | None]:
        """What the website and feeds are built from: deliveries gone out, newest withdrawal."""
        withdrawn = await self.reviews.latest_withdrawal()
        return await self.content.delivered_state(names), withdrawn

    async def keep_public_current(self) -> None:
        """Rebuild the site when a campaign starts or expires, without anyone acting."""
        while True:
            try:
                await self._keep_public_current_once()
            except Exception:
                log.exception("could not rebuild the website and feeds; trying again shortly")
                await asyncio.sleep(5)

    async def _keep_public_current_once(self) -> None:
        while True:
            upcoming = await self.next_public_change()
            now = datetime.now(UTC)
            wait = REFRESH_CEILING if upcoming is None else min(upcoming - now, REFRESH_CEILING)
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for drops a cancellation that
            # comes as the site changes (SIGINT right after a reload), and stop would hang.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(wait.total_seconds(), 0.05)):
                    await self.public.changed()
                continue  # a delivery rebuilt it; recompute the next boundary
            if upcoming is not None and upcoming <= datetime.now(UTC) + timedelta(seconds=0.05):
                log.info("a campaign starts or expires now; rebuilding the website and feeds")
                # A timer may wake a hair early: build as of the boundary itself.
                await asyncio.sleep(max(0.0, (upcoming - datetime.now(UTC)).total_seconds()))
                await self.refresh_public()

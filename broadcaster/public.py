"""The generated website and feeds: built from the store, swapped in atomically, served."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from .channels.feed import FeedOptions
from .channels.website import WebsiteOptions
from .feeds import build_feeds
from .models import DEFAULT_LOCALE, Workspace
from .render import Publication, Templates
from .site import build_site, next_change, write_site, write_subtree
from .snapshot import from_snapshot
from .store.content import ContentStore
from .web.static import StaticFiles

log = logging.getLogger(__name__)

FEEDS = "feeds"


class PublicSite:
    """One process's view of `public/`: rebuilds it on delivery and serves what is there."""

    def __init__(
        self,
        public: Path,
        content: ContentStore,
        base_url: str,
        *,
        static: StaticFiles | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.public = public
        self.content = content
        self.base_url = base_url
        self.static = static or StaticFiles()
        self.clock = clock
        self.workspace: Workspace | None = None
        self._lock = asyncio.Lock()
        self._loaded_target: str | None = None
        self._changed = asyncio.Event()

    def use(self, workspace: Workspace) -> None:
        """Name topics and locales after this workspace (start and reload)."""
        self.workspace = workspace

    async def publications(self, channel: str) -> list[Publication]:
        """The newest publication of each campaign that went out on `channel`."""
        workspace = self._workspace()
        snapshots = await self.content.latest_snapshots(channel)
        return [from_snapshot(text, workspace, self.base_url) for text in snapshots]

    async def rebuild_site(
        self, channel: str, options: WebsiteOptions, templates: Templates
    ) -> str:
        """Rebuild the website from the store and swap it in; returns a receipt."""
        async with self._lock:
            publications = await self.publications(channel)
            files = build_site(
                publications,
                withdrawn=frozenset(),
                now=self.clock(),
                options=options,
                templates=templates,
                base_url=self.base_url,
            )
            build = await asyncio.to_thread(write_site, files, self.public, keep=(FEEDS,))
            await self.reload()
            self._changed.set()
        return f"site {build.name}: {len(files)} files, {len(publications)} campaigns"

    async def rebuild_feeds(self, channel: str, options: FeedOptions) -> str:
        """Rebuild every feed from the store and swap them in; returns a receipt."""
        workspace = self._workspace()
        async with self._lock:
            publications = await self.publications(channel)
            locales = (
                {DEFAULT_LOCALE}
                | {loc for p in publications for loc in p.campaign.locales}
                | {loc for c in workspace.campaigns.values() for loc in c.locales}
            )
            files = build_feeds(
                publications,
                withdrawn=frozenset(),
                now=self.clock(),
                options=options,
                base_url=self.base_url,
                topics=workspace.topics,
                locales=sorted(locales, key=lambda loc: (loc != DEFAULT_LOCALE, loc)),
            )
            build = await asyncio.to_thread(write_subtree, files, self.public, FEEDS)
            await self.reload()
            self._changed.set()
        return f"feeds {build.name}: {len(files)} files, {len(publications)} campaigns"

    async def next_change(self, channel: str) -> datetime | None:
        """When a campaign on `channel` next starts or expires (the site must change then)."""
        return next_change(await self.publications(channel), frozenset(), self.clock())

    async def changed(self) -> None:
        """Wait until this process next rebuilds the site or feeds."""
        self._changed.clear()
        await self._changed.wait()

    def _target(self) -> str | None:
        """Which site build and which feeds build are live (both are symlinks)."""
        try:
            site = os.readlink(self.public)
        except OSError:
            return None
        try:
            return f"{site}|{os.readlink(self.public / FEEDS)}"
        except OSError:
            return site

    async def reload(self) -> None:
        """Serve what is on disk now (after our own build, or another process's)."""
        target = self._target()
        if target is None:
            return
        await asyncio.to_thread(self.static.load_dir, self.public)
        self._loaded_target = target

    async def follow(self, interval: float = 0.25) -> None:
        """Reload when another process swaps in a new build (runs until cancelled)."""
        while True:
            await asyncio.sleep(interval)
            if self._target() != self._loaded_target:
                async with self._lock:
                    await self.reload()

    def _workspace(self) -> Workspace:
        if self.workspace is None:
            raise RuntimeError("PublicSite.use(workspace) was not called")
        return self.workspace

"""The generated website and feeds: built from the store, swapped in atomically, served."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from broadcaster.outbox.content import ContentStore
from broadcaster.outbox.snapshot import from_snapshot
from broadcaster.site import build_site, next_change, write_site, write_subtree
from broadcaster.site.build import SiteCache, SiteFeeds, built_as_of
from broadcaster.site.directory import DEFAULT_LISTED, ListedFeed
from broadcaster.site.feeds import FeedCache, build_feeds
from broadcaster.site.options import FeedSettings, SiteTitles
from broadcaster.site.sources import StateReader, StoreState
from broadcaster.site.static import StaticFiles
from broadcaster.site.writer import LatestWriter
from broadcaster.text.render import Publication, Templates
from broadcaster.workspace.attachments import Attachment, campaign_files
from broadcaster.workspace.models import DEFAULT_LOCALE, Workspace

log = logging.getLogger(__name__)

FEEDS = "feeds"


def _link(path: Path) -> str | None:
    """Where the symlink `path` points, or None."""
    try:
        return os.readlink(path)
    except OSError:
        return None


@dataclass(frozen=True)
class _Built:
    """What the last build of one channel was made from, until when it holds, its receipt."""

    inputs: tuple[object, ...]
    target: str | None
    until: datetime | None
    receipt: str

    def still_current(
        self, inputs: tuple[object, ...], target: str | None, now: datetime, *, writing: bool
    ) -> bool:
        """The same input objects, nothing swapped in since, no campaign started or expired.

        While this process is `writing` a build, the symlink moves under it: what is served
        then is the build in memory, and the target is only compared once it is written.
        """
        return (
            len(inputs) == len(self.inputs)
            and all(a is b for a, b in zip(inputs, self.inputs, strict=True))
            and (writing or target == self.target)
            and (self.until is None or now < self.until)
        )


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
        self.static = static or StaticFiles(base_url=base_url)
        self.clock = clock
        self.workspace: Workspace | None = None
        # One build of the site and one of the feeds at a time, side by side (each awaits
        # the store while the other renders); both read the store once (see StateReader).
        self._site_lock = asyncio.Lock()
        self._feeds_lock = asyncio.Lock()
        self.state = StateReader(content, self._parse)
        self._loaded_target: str | None = None
        self._changed = asyncio.Event()
        # Builds under way, and set while there are none: disk writes wait for that.
        self._building = 0
        self._quiet = asyncio.Event()
        self._quiet.set()
        # Work earlier builds did, reused while its inputs are the same objects: rendered
        # campaign pages and feeds, and each channel's last build.
        self._pages: dict[str, SiteCache] = {}
        self._feeds: dict[str, FeedCache] = {}
        self._built: dict[tuple[str, str], _Built] = {}
        self._site_writer = LatestWriter(
            lambda files, unchanged: write_site(
                files, self.public, keep=(FEEDS,), unchanged=unchanged
            ),
            self._until_quiet,
        )
        self._feeds_writer = LatestWriter(
            lambda files, unchanged: write_subtree(files, self.public, FEEDS, unchanged=unchanged),
            self._until_quiet,
        )
        # Each publication's attachments, read once: (the publication, its files).
        self._attachments: dict[int, tuple[Publication, list[Attachment]]] = {}
        # Per channel, the withdrawn campaigns of its last build (see _withdrawn).
        self._withdrawn_last: dict[str, dict[str, datetime]] = {}
        self._prebuilds: set[asyncio.Future[str]] = set()
        # The feeds the feeds page and /feeds.opml list (site/directory.py).
        self.listed: tuple[ListedFeed, ...] = DEFAULT_LISTED

    def list_feed(self, feed: ListedFeed) -> None:
        """List one more kind of feed on the feeds page and in the OPML, from the next
        website build on (a part that publishes a feed of its own calls this)."""
        if all(known.key != feed.key for known in self.listed):
            self.listed = (*self.listed, feed)
            self._pages.clear()  # every page links the feeds

    def use(self, workspace: Workspace) -> None:
        """Name topics and locales after this workspace (start and reload)."""
        self.workspace = workspace
        self.state.forget()  # publications carry the workspace (topic names)

    def _parse(self, snapshot: str) -> Publication:
        return from_snapshot(snapshot, self._workspace(), self.base_url)

    def created(self, publication_id: int, snapshot: str) -> None:
        """A publication this process has just stored: the builders need not read it back."""
        if self.workspace is not None:
            self.state.remember(publication_id, snapshot)

    def prebuild(self, build: Awaitable[str]) -> None:
        """Run `build` (a rebuild) now, in the background: a publication on its channel was
        just queued in this process, and its delivery will find the result current."""
        task = asyncio.ensure_future(build)
        self._prebuilds.add(task)
        task.add_done_callback(self._prebuilt)

    def _prebuilt(self, task: asyncio.Future[str]) -> None:
        self._prebuilds.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("rebuilding ahead of a delivery failed: %s", task.exception())

    async def publications(self, channel: str) -> list[Publication]:
        """The newest publication of each campaign that went out on `channel` (from a store
        read made after this call; see StateReader)."""
        self._workspace()
        return (await self.state.read(channel)).publications[channel]

    @contextlib.asynccontextmanager
    async def _build(self, lock: asyncio.Lock, channel: str) -> AsyncIterator[StoreState]:
        """Hold `lock` and read the store for `channel`; disk writes wait until no build runs."""
        self._workspace()
        self._building += 1
        self._quiet.clear()
        try:
            async with lock:
                yield await self.state.read(channel)
        finally:
            self._building -= 1
            if self._building == 0:
                self._quiet.set()

    async def _until_quiet(self) -> None:
        while not self._quiet.is_set():
            await self._quiet.wait()

    async def rebuild_site(self, channel: str, options: SiteTitles, templates: Templates) -> str:
        """Rebuild the website from the store and swap it in; returns a receipt."""
        async with self._build(self._site_lock, channel) as state:
            publications = state.publications[channel]
            withdrawn = self._withdrawn(channel, publications, state)
            now = self.clock()
            workspace = self._workspace()
            inputs = (options, templates, withdrawn, workspace, self.listed, *publications)
            key = ("site", channel)
            last = self._built.get(key)
            writing = self._site_writer.busy
            if last is not None and last.still_current(
                inputs, _link(self.public), now, writing=writing
            ):
                return last.receipt  # the same build again: nothing to do
            files = build_site(
                publications,
                withdrawn=withdrawn,
                now=now,
                options=options,
                templates=templates,
                base_url=self.base_url,
                cache=self._pages.setdefault(channel, SiteCache()),
                feeds=SiteFeeds(workspace.topics, self.listed, self._files_of),
            )
            # The campaigns' files/ (the official documents): webhooks and mail link here.
            for publication in publications:
                for file in self._files_of(publication):
                    files[f"files/{publication.campaign.id}/{file.name}"] = file.data
            current = {id(p) for p in publications}
            self._attachments = {k: v for k, v in self._attachments.items() if k in current}
            as_of = built_as_of(publications, withdrawn, now)
            self.static.replace_part(files, prefix=f"{FEEDS}/", inside=False, last_modified=as_of)
            receipt = f"site: {len(files)} files, {len(publications)} campaigns"
            until = next_change(publications, withdrawn, now)
            built = self._built[key] = _Built(inputs, _link(self.public), until, receipt)
            self._site_writer.submit(files).add_done_callback(
                lambda future: self._written(future, key, built, self.public)
            )
            self._changed.set()
        return receipt

    def _files_of(self, publication: Publication) -> list[Attachment]:
        """The publication's attachments, read from the workspace once per publication."""
        known = self._attachments.get(id(publication))
        if known is None or known[0] is not publication:
            known = (publication, campaign_files(publication))
            self._attachments[id(publication)] = known
        return known[1]

    def _withdrawn(
        self, channel: str, publications: list[Publication], state: StoreState
    ) -> dict[str, datetime]:
        """The withdrawn campaigns; the same object as last time when nothing changed, so
        an unchanged state is recognised as such (see _Built.still_current)."""
        found = state.withdrawn_at(publications)
        if found != self._withdrawn_last.get(channel):
            self._withdrawn_last[channel] = found
        return self._withdrawn_last[channel]

    async def rebuild_feeds(self, channel: str, options: FeedSettings) -> str:
        """Rebuild every feed from the store and swap them in; returns a receipt."""
        workspace = self._workspace()
        async with self._build(self._feeds_lock, channel) as state:
            publications = state.publications[channel]
            withdrawn = self._withdrawn(channel, publications, state)
            now = self.clock()
            inputs = (options, workspace, withdrawn, *publications)
            key = (FEEDS, channel)
            last = self._built.get(key)
            writing = self._feeds_writer.busy
            if last is not None and last.still_current(
                inputs, _link(self.public / FEEDS), now, writing=writing
            ):
                return last.receipt  # the same feeds again: nothing to do
            locales = (
                {DEFAULT_LOCALE}
                | {loc for p in publications for loc in p.campaign.locales}
                | {loc for c in workspace.campaigns.values() for loc in c.locales}
            )
            files = build_feeds(
                publications,
                withdrawn=withdrawn,
                now=now,
                options=options,
                base_url=self.base_url,
                topics=workspace.topics,
                locales=sorted(locales, key=lambda loc: (loc != DEFAULT_LOCALE, loc)),
                cache=self._feeds.setdefault(channel, FeedCache()),
                attachments=self._files_of,
            )
            as_of = built_as_of(publications, withdrawn, now)
            self.static.replace_part(files, prefix=f"{FEEDS}/", last_modified=as_of)
            receipt = f"feeds: {len(files)} files, {len(publications)} campaigns"
            # Withdrawn entries stay in the feeds until they expire: that changes them too.
            until = next_change(publications, (), now)
            link = self.public / FEEDS
            built = self._built[key] = _Built(inputs, _link(link), until, receipt)
            self._feeds_writer.submit(files).add_done_callback(
                lambda future: self._written(future, key, built, link)
            )
            self._changed.set()
        return receipt

    async def next_change(self, channel: str) -> datetime | None:
        """When a campaign on `channel` next starts or expires (the site must change then),
        after the newest store read (the one the last build used)."""
        self._workspace()
        publications = await self.state.latest(channel)
        # Withdrawn campaigns count: their feed entries leave when they expire.
        return next_change(publications, (), self.clock())

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

    async def flush(self) -> None:
        """Wait until every build served from memory is also on disk, and no store read is
        under way (before exiting)."""
        await asyncio.gather(*self._prebuilds, return_exceptions=True)
        await self.state.idle()
        for writer in (self._site_writer, self._feeds_writer):
            while writer.busy and writer.task is not None:
                with contextlib.suppress(Exception):
                    await asyncio.shield(writer.task)

    def _written(
        self, future: asyncio.Future[Path], key: tuple[str, str], built: _Built, link: Path
    ) -> None:
        if future.exception() is not None:
            log.error("writing public/ failed: %s", future.exception())
            return
        if self._built.get(key) is built:  # what is on disk now is this build
            self._built[key] = dataclasses.replace(built, target=_link(link))
        if not (self._site_writer.busy or self._feeds_writer.busy):
            self._loaded_target = self._target()

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
            if self._site_writer.busy or self._feeds_writer.busy:
                continue  # our own writes: memory already serves them
            if self._target() != self._loaded_target:
                async with self._site_lock, self._feeds_lock:
                    await self.reload()

    def _workspace(self) -> Workspace:
        if self.workspace is None:
            raise RuntimeError("PublicSite.use(workspace) was not called")
        return self.workspace

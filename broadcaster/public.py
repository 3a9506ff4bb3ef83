"""The generated website and feeds: built from the store, swapped in atomically, served."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from .attachments import Attachment, campaign_files
from .channels.feed import FeedOptions
from .channels.website import WebsiteOptions
from .feeds import FeedCache, build_feeds
from .models import DEFAULT_LOCALE, Workspace
from .render import Publication, Templates
from .site import build_site, next_change, write_site, write_subtree
from .site.build import SiteCache
from .site.write import Unchanged
from .snapshot import from_snapshot
from .store.content import ContentStore
from .web.static import StaticFiles

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

    def still_current(self, inputs: tuple[object, ...], target: str | None, now: datetime) -> bool:
        """The same input objects, nothing swapped in since, no campaign started or expired."""
        return (
            len(inputs) == len(self.inputs)
            and all(a is b for a, b in zip(inputs, self.inputs, strict=True))
            and target == self.target
            and (self.until is None or now < self.until)
        )


class _Writer:
    """Writes the newest build submitted to disk, one write at a time (latest wins).

    `write(files, unchanged)` gets what this writer wrote last (the build folder and the
    paths whose bytes are the very same objects now), so files that did not change can be
    hard-linked from it instead of written again.
    """

    def __init__(self, write: Callable[[dict[str, bytes], Unchanged | None], Path]) -> None:
        self.write = write
        self.last: tuple[Path, dict[str, bytes]] | None = None
        self.pending: dict[str, bytes] | None = None
        self.waiters: list[asyncio.Future[Path]] = []
        self.task: asyncio.Task[None] | None = None

    @property
    def busy(self) -> bool:
        return self.task is not None and not self.task.done()

    def submit(self, files: dict[str, bytes]) -> asyncio.Future[Path]:
        """Write `files` (or a newer build submitted before this one is written)."""
        future: asyncio.Future[Path] = asyncio.get_running_loop().create_future()
        self.pending = files
        self.waiters.append(future)
        if not self.busy:
            self.task = asyncio.create_task(self._run())
        return future

    async def _run(self) -> None:
        while self.pending is not None:
            files, waiters = self.pending, self.waiters
            self.pending, self.waiters = None, []
            unchanged = None
            if self.last is not None:
                folder, before = self.last
                same = frozenset(p for p, data in files.items() if before.get(p) is data)
                unchanged = Unchanged(folder, same)
            try:
                build = await asyncio.to_thread(self.write, files, unchanged)
                self.last = (build, files)
            except Exception as exc:
                for waiter in waiters:
                    if not waiter.done():
                        waiter.set_exception(exc)
            else:
                for waiter in waiters:
                    if not waiter.done():
                        waiter.set_result(build)


class _Withdrawn(Protocol):
    """What the site needs of a withdrawal: when it happened."""

    @property
    def at(self) -> datetime: ...


async def _withdrawn_at(
    source: Callable[[], Awaitable[Mapping[str, _Withdrawn]]] | None,
    publications: list[Publication],
) -> dict[str, datetime]:
    """Campaign id -> when it was withdrawn, for campaigns not published again since."""
    if source is None:
        return {}
    withdrawals = await source()
    return {
        p.campaign.id: withdrawals[p.campaign.id].at
        for p in publications
        if p.campaign.id in withdrawals and withdrawals[p.campaign.id].at >= p.published_at
    }


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
        # One build of the site and one of the feeds at a time, side by side (each awaits
        # the store while the other renders); reading new snapshots is one at a time.
        self._site_lock = asyncio.Lock()
        self._feeds_lock = asyncio.Lock()
        self._read_lock = asyncio.Lock()
        self._loaded_target: str | None = None
        self._changed = asyncio.Event()
        # Work earlier builds did, reused while its inputs are the same objects: publications
        # by id (parsed once), rendered campaign pages and feeds, and each channel's last build.
        self._parsed: dict[int, Publication] = {}
        self._pages: dict[str, SiteCache] = {}
        self._feeds: dict[str, FeedCache] = {}
        self._built: dict[tuple[str, str], _Built] = {}
        # Campaign id -> when it was withdrawn (the staff store's withdrawals); a campaign
        # published again after that is current again.
        self.withdrawn: Callable[[], Awaitable[Mapping[str, _Withdrawn]]] | None = None
        self._site_writer = _Writer(
            lambda files, unchanged: write_site(
                files, self.public, keep=(FEEDS,), unchanged=unchanged
            )
        )
        self._feeds_writer = _Writer(
            lambda files, unchanged: write_subtree(files, self.public, FEEDS, unchanged=unchanged)
        )
        # Each publication's attachments, read once: (the publication, its files).
        self._attachments: dict[int, tuple[Publication, list[Attachment]]] = {}
        # Per channel, the withdrawn campaigns of its last build (see _withdrawn).
        self._withdrawn_last: dict[str, dict[str, datetime]] = {}

    def use(self, workspace: Workspace) -> None:
        """Name topics and locales after this workspace (start and reload)."""
        self.workspace = workspace
        self._parsed = {}  # publications carry the workspace (topic names)

    async def publications(self, channel: str) -> list[Publication]:
        """The newest publication of each campaign that went out on `channel`.

        A snapshot seen before gives the same Publication object as before (parsed once per
        workspace), which is what lets the site and feed builders reuse their earlier work.
        """
        workspace = self._workspace()
        async with self._read_lock:  # one Publication object per snapshot, never two
            ids = await self.content.latest_snapshot_ids(channel)
            parsed = self._parsed
            missing = [i for i in ids if i not in parsed]
            if missing:  # snapshots never change: read and parse only the new ones
                for i, text in (await self.content.snapshots(missing)).items():
                    parsed[i] = from_snapshot(text, workspace, self.base_url)
            found = [parsed[i] for i in ids if i in parsed]
            if len(parsed) > 2 * len(ids) + 64:  # forget those that are no longer newest
                self._parsed = {i: parsed[i] for i in ids if i in parsed}
        return found

    async def rebuild_site(
        self, channel: str, options: WebsiteOptions, templates: Templates
    ) -> str:
        """Rebuild the website from the store and swap it in; returns a receipt."""
        async with self._site_lock:
            publications = await self.publications(channel)
            withdrawn = await self._withdrawn(channel, publications)
            now = self.clock()
            inputs = (options, templates, withdrawn, *publications)
            last = self._built.get(("site", channel))
            if last is not None and last.still_current(inputs, _link(self.public), now):
                return last.receipt  # the same build again: nothing to do
            files = build_site(
                publications,
                withdrawn=withdrawn,
                now=now,
                options=options,
                templates=templates,
                base_url=self.base_url,
                cache=self._pages.setdefault(channel, SiteCache()),
            )
            # The campaigns' files/ (the official documents): webhooks and mail link here.
            for publication in publications:
                for file in self._files_of(publication):
                    files[f"files/{publication.campaign.id}/{file.name}"] = file.data
            current = {id(p) for p in publications}
            self._attachments = {k: v for k, v in self._attachments.items() if k in current}
            self._serve_built(files, feeds=False)
            self._site_writer.submit(files).add_done_callback(self._written)
            self._changed.set()
            receipt = f"site: {len(files)} files, {len(publications)} campaigns"
            until = next_change(publications, withdrawn, now)
            self._built[("site", channel)] = _Built(inputs, _link(self.public), until, receipt)
        return receipt

    def _files_of(self, publication: Publication) -> list[Attachment]:
        """The publication's attachments, read from the workspace once per publication."""
        known = self._attachments.get(id(publication))
        if known is None or known[0] is not publication:
            known = (publication, campaign_files(publication))
            self._attachments[id(publication)] = known
        return known[1]

    async def _withdrawn(
        self, channel: str, publications: list[Publication]
    ) -> dict[str, datetime]:
        """The withdrawn campaigns; the same object as last time when nothing changed, so
        an unchanged state is recognised as such (see _Built.still_current)."""
        found = await _withdrawn_at(self.withdrawn, publications)
        if found != self._withdrawn_last.get(channel):
            self._withdrawn_last[channel] = found
        return self._withdrawn_last[channel]

    async def rebuild_feeds(self, channel: str, options: FeedOptions) -> str:
        """Rebuild every feed from the store and swap them in; returns a receipt."""
        workspace = self._workspace()
        async with self._feeds_lock:
            publications = await self.publications(channel)
            withdrawn = await self._withdrawn(channel, publications)
            now = self.clock()
            inputs = (options, workspace, withdrawn, *publications)
            last = self._built.get((FEEDS, channel))
            if last is not None and last.still_current(inputs, _link(self.public / FEEDS), now):
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
            )
            self._serve_built(files, feeds=True)
            self._feeds_writer.submit(files).add_done_callback(self._written)
            self._changed.set()
            receipt = f"feeds: {len(files)} files, {len(publications)} campaigns"
            # Withdrawn entries stay in the feeds until they expire: that changes them too.
            until = next_change(publications, (), now)
            self._built[(FEEDS, channel)] = _Built(
                inputs, _link(self.public / FEEDS), until, receipt
            )
        return receipt

    async def next_change(self, channel: str) -> datetime | None:
        """When a campaign on `channel` next starts or expires (the site must change then)."""
        publications = await self.publications(channel)
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
        """Wait until every build served from memory is also on disk (before exiting)."""
        for writer in (self._site_writer, self._feeds_writer):
            while writer.busy and writer.task is not None:
                with contextlib.suppress(Exception):
                    await asyncio.shield(writer.task)

    def _serve_built(self, files: dict[str, bytes], *, feeds: bool) -> None:
        """Serve a new build from memory at once; the disk follows (see _Writer)."""
        current = self.static.files
        kept = {p: f.body for p, f in current.items() if p.startswith(f"{FEEDS}/") != feeds}
        times = {path: static.last_modified for path, static in current.items()}
        self.static.replace({**kept, **files}, last_modified=times)

    def _written(self, future: asyncio.Future[Path]) -> None:
        if future.exception() is not None:
            log.error("writing public/ failed: %s", future.exception())
            return
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

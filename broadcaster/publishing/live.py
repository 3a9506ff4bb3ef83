"""The workspace in use and the channels built from it: the one part a reload replaces."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import Mapping
from pathlib import Path

from broadcaster.channels import Channel, build_channels
from broadcaster.channels.base import ListMailChannel, RetryingChannel
from broadcaster.fanpages.store import FanpageStore
from broadcaster.outbox.outbox import Outbox
from broadcaster.outbox.retry import RetryPolicy
from broadcaster.outbox.workers import Workers
from broadcaster.partners.store import PartnerStore
from broadcaster.publishing.publisher import Publisher
from broadcaster.settings import Settings
from broadcaster.site.public import PublicSite
from broadcaster.subscribers.store import SqlSubscriberStore
from broadcaster.subscribers.tokens import SignedTokens
from broadcaster.workspace.diagnostics import WorkspaceError
from broadcaster.workspace.models import Workspace
from broadcaster.workspace.quarantine import Quarantined, load_quarantining, write_record

log = logging.getLogger(__name__)


def settle_heap() -> None:
    """Move everything alive now (the workspace, parsed publications, built pages) out of
    the garbage collector's way: a full collection would otherwise walk all of it, and with
    a few hundred campaigns that stalls the loop for a few hundred milliseconds, in the
    middle of whatever publication is going out. Called by `serve` after start and after
    each reload (unfreezing first, so a replaced workspace can be freed)."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def load_or_raise(
    root: Path, settings: Settings, previous: Workspace | None = None
) -> tuple[Workspace, tuple[Quarantined, ...]]:
    """The workspace and the campaigns quarantined in it (keeping their revision in
    `previous`), or WorkspaceError carrying every problem when one lies outside campaigns."""
    workspace, diag, held = load_quarantining(root, settings, previous)
    if workspace is None:
        raise WorkspaceError(diag.errors)
    return workspace, held


def log_quarantine(held: tuple[Quarantined, ...]) -> None:
    """Say loudly, problem by problem, which campaigns are held back and what they keep."""
    for quarantined in held:
        kept = quarantined.kept_revision
        log.error(
            "campaign %s quarantined: its files have errors; %s",
            quarantined.campaign,
            f"revision {kept[:12]} (the last good one) stays in use"
            if kept
            else "it never loaded, so it is left out (schedules for it are skipped)",
        )
        for problem in quarantined.problems:
            log.error("campaign %s quarantined: %s", quarantined.campaign, problem)


def retry_policies(channels: Mapping[str, Channel]) -> dict[str, RetryPolicy]:
    """The channels that bring their own retry policy (webhooks: a fixed schedule)."""
    return {
        name: channel.retry_policy()
        for name, channel in channels.items()
        if isinstance(channel, RetryingChannel)
    }


class Live:
    """The workspace in use, the channels built from it and their open resources.

    The one part that changes while running: a reload replaces all three together.
    """

    def __init__(
        self,
        settings: Settings,
        workspace: Workspace,
        stores: tuple[SqlSubscriberStore, SignedTokens, PartnerStore],
        public: PublicSite,
        outbox: Outbox,
        publisher: Publisher,
        workers: Workers,
    ) -> None:
        self.settings = settings
        # What the channels are built over: subscribers, token signer, partners.
        self.subscribers, self.tokens, self.partners = stores
        # Fan-page posts and channel alerts; set by the service before the first `use`.
        self.fanpages: FanpageStore | None = None
        self.public = public
        self.outbox = outbox
        self.publisher = publisher
        self.workers = workers
        self.workspace = workspace
        # Campaigns whose files have errors: kept at their last good revision, or left out.
        self.quarantine: tuple[Quarantined, ...] = ()
        # Whether to write it to var/quarantine.json for `status` (`serve` does).
        self.record_quarantine = False
        self.channels: Mapping[str, Channel] = {}
        # Long-lived channel resources (SMTP pools); replaced, and the old closed, on reload.
        self.channel_resources: contextlib.AsyncExitStack | None = None
        self._retiring: set[asyncio.Task[None]] = set()  # replaced ones, closing

    def use(self, workspace: Workspace, quarantine: tuple[Quarantined, ...] = ()) -> None:
        """Switch every part to `workspace` (start and reload), with `quarantine` recorded
        in var/ for `broadcaster status` and logged."""
        self.workspace = workspace
        self.quarantine = quarantine
        log_quarantine(quarantine)
        if self.record_quarantine:
            try:
                write_record(self.settings.root, quarantine)
            except OSError as exc:
                log.warning("cannot record the quarantine in var/: %s", exc.strerror or exc)
        self.public.use(workspace)
        self.channels = build_channels(
            workspace,
            self.settings,
            self.public,
            subscribers=self.subscribers,
            tokens=self.tokens,
            partners=self.partners,
            fanpages=self.fanpages,
            history=self.outbox,
        )
        self.outbox.use_policies(retry_policies(self.channels))
        self.publisher.use(workspace, self.channels)
        self.workers.channels = self.channels

    async def start_channels(self) -> None:
        """Open the current channels' resources; close those of the channels they replace."""
        stack = contextlib.AsyncExitStack()
        for channel in self.channels.values():
            await channel.start(stack)
        previous, self.channel_resources = self.channel_resources, stack
        if previous is not None:
            task = asyncio.create_task(self._retire(previous), name="retire-channels")
            self._retiring.add(task)
            task.add_done_callback(self._retiring.discard)

    async def _retire(self, resources: contextlib.AsyncExitStack) -> None:
        """Close replaced channels' resources once the workers let go of them: the batches
        begun on them finish there. Batches are sized to half a lease; one still running
        after that is cut short while its leases hold, and what it had not sent is retried."""
        within = self.settings.lease_seconds / 2
        if not await self.workers.let_go(within):
            log.warning(
                "deliveries begun before the reload still ran after %g s; their connections "
                "are closed now and what they had not sent is retried",
                within,
            )
        try:
            await resources.aclose()
        except Exception:  # a channel that will not close must not stop the next reload
            log.exception("closing the channels a reload replaced failed")

    async def close_channels(self) -> None:
        """Close the current channels' resources and those still closing after a reload
        (once the workers have stopped)."""
        await asyncio.gather(*self._retiring)
        if self.channel_resources is not None:
            await self.channel_resources.aclose()

    def quarantined(self, campaign_id: str) -> Quarantined | None:
        """The campaign's quarantine, if its files have errors."""
        return next((q for q in self.quarantine if q.campaign == campaign_id), None)

    def bounce_domains(self) -> set[str]:
        """The domains bounces come back to: those of the email channels to subscribers."""
        return {
            channel.bounce_domain
            for channel in self.channels.values()
            if isinstance(channel, ListMailChannel)
        }

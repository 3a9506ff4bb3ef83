"""The workspace in use and the channels built from it: the one part a reload replaces."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from pathlib import Path

from broadcaster.channels import Channel, build_channels
from broadcaster.channels.base import ListMailChannel, RetryingChannel
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
from broadcaster.workspace.load import load_workspace
from broadcaster.workspace.models import Workspace


def load_or_raise(root: Path, settings: Settings) -> Workspace:
    """The workspace, or WorkspaceError carrying every problem `check` would report."""
    workspace, diag = load_workspace(root, settings)
    if workspace is None:
        raise WorkspaceError(diag.errors)
    return workspace


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
        self.public = public
        self.outbox = outbox
        self.publisher = publisher
        self.workers = workers
        self.workspace = workspace
        self.channels: Mapping[str, Channel] = {}
        # Long-lived channel resources (SMTP pools); replaced, and the old closed, on reload.
        self.channel_resources: contextlib.AsyncExitStack | None = None

    def use(self, workspace: Workspace) -> None:
        """Switch every part to `workspace` (start and reload)."""
        self.workspace = workspace
        self.public.use(workspace)
        self.channels = build_channels(
            workspace,
            self.settings,
            self.public,
            subscribers=self.subscribers,
            tokens=self.tokens,
            partners=self.partners,
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
            await previous.aclose()

    async def close_channels(self) -> None:
        """Close the current channels' resources (once the workers have stopped)."""
        if self.channel_resources is not None:
            await self.channel_resources.aclose()

    def bounce_domains(self) -> set[str]:
        """The domains bounces come back to: those of the email channels to subscribers."""
        return {
            channel.bounce_domain
            for channel in self.channels.values()
            if isinstance(channel, ListMailChannel)
        }

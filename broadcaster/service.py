"""Everything `serve` runs, opened in one `AsyncExitStack` and so closed in reverse order.

`Service` is the frozen bundle of those open parts; `Live` holds what a reload replaces.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from broadcaster.bounces.receiver import bounce_receiver
from broadcaster.channels import Channel, build_channels
from broadcaster.channels.email import EmailChannel
from broadcaster.outbox.content import ContentStore
from broadcaster.outbox.outbox import Outbox
from broadcaster.outbox.retry import RetryPolicy
from broadcaster.outbox.workers import Workers, WorkerSettings
from broadcaster.partners.store import PartnerStore
from broadcaster.publishing.approval import Approvals
from broadcaster.publishing.digests.fire import Digests
from broadcaster.publishing.digests.store import StoreAudience
from broadcaster.publishing.publisher import Publisher
from broadcaster.publishing.scheduler import Scheduler
from broadcaster.settings import Settings
from broadcaster.site.public import PublicSite
from broadcaster.site.static import StaticFiles
from broadcaster.site.upkeep import PublicUpkeep
from broadcaster.staff.accounts import Accounts
from broadcaster.staff.audit import AuditLog
from broadcaster.staff.reviews import ReviewStore
from broadcaster.staff.tables import Role
from broadcaster.store import create_engine, upgrade_engine
from broadcaster.store.engine import dispose_engine
from broadcaster.subscribers.confirmations import ChannelMailer, ConfirmationMailer, Confirmations
from broadcaster.subscribers.store import SqlSubscriberStore
from broadcaster.subscribers.tokens import SignedTokens
from broadcaster.web.metrics import Metrics
from broadcaster.workspace.diagnostics import WorkspaceError
from broadcaster.workspace.load import load_workspace
from broadcaster.workspace.models import Workspace

log = logging.getLogger(__name__)


def load_or_raise(root: Path, settings: Settings) -> Workspace:
    """The workspace, or WorkspaceError carrying every problem `check` would report."""
    workspace, diag = load_workspace(root, settings)
    if workspace is None:
        raise WorkspaceError(diag.errors)
    return workspace


def settle_heap() -> None:
    """Move everything alive now (the workspace, parsed publications, built pages) out of
    the garbage collector's way: a full collection would otherwise walk all of it, and with
    a few hundred campaigns that stalls the loop for a few hundred milliseconds, in the
    middle of whatever publication is going out. Called by `serve` after start and after
    each reload (unfreezing first, so a replaced workspace can be freed)."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def retry_policies(channels: Mapping[str, Channel]) -> dict[str, RetryPolicy]:
    """The channels that bring their own retry policy (webhooks: a fixed schedule)."""
    policies: dict[str, RetryPolicy] = {}
    for name, channel in channels.items():
        policy = getattr(channel, "retry_policy", None)
        if callable(policy):
            policies[name] = policy()
    return policies


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
            start = getattr(channel, "start", None)
            if start is not None:
                await start(stack)
        previous, self.channel_resources = self.channel_resources, stack
        if previous is not None:
            await previous.aclose()

    async def close_channels(self) -> None:
        """Close the current channels' resources (once the workers have stopped)."""
        if self.channel_resources is not None:
            await self.channel_resources.aclose()


def verp_domains(live: Live) -> set[str]:
    """The domains bounces come back to: those of the email channels to subscribers."""
    return {
        channel.options.domain
        for channel in live.channels.values()
        if isinstance(channel, EmailChannel) and channel.options.audience == "subscribers"
    }


async def notify_approvers(
    live: Live, accounts: Accounts, base_url: str, subject: str, text: str
) -> int:
    """Email every enabled approver and admin who has an address; how many were sent.

    Sent through the press-desk email channel (else the subscribers' one), so it uses
    the workspace's own mail settings; without an email channel nobody is emailed.
    """
    mailers = [c for c in live.channels.values() if isinstance(c, EmailChannel)]
    mailers.sort(key=lambda c: c.options.audience != "desk")
    if not mailers:
        return 0
    link = f"{base_url}/admin/"
    sent = 0
    for user in await accounts.list_users():
        if user.email and not user.disabled and user.role.allows(Role.APPROVER):
            await mailers[0].send_notice(user.email, subject, text.replace("/admin/", link, 1))
            sent += 1
    return sent


@dataclass(frozen=True)
class Service:
    """The open parts of Broadcaster; `live` holds the one workspace they all use."""

    settings: Settings
    engine: AsyncEngine
    live: Live
    outbox: Outbox
    content: ContentStore
    public: PublicSite
    upkeep: PublicUpkeep
    publisher: Publisher
    workers: Workers
    metrics: Metrics
    subscribers: SqlSubscriberStore
    tokens: SignedTokens
    partners: PartnerStore
    accounts: Accounts
    approvals: Approvals
    # Sends the double opt-in emails owed (subscribes whose email failed, imports).
    confirmations: Confirmations
    scheduler: Scheduler | None
    # Whether to call settle_heap() after each reload (`serve` does).
    settle: bool

    @property
    def workspace(self) -> Workspace:
        """The workspace in use (replaced on reload)."""
        return self.live.workspace

    @property
    def channels(self) -> Mapping[str, Channel]:
        """The channels built from the workspace in use."""
        return self.live.channels

    async def refresh_public(self) -> None:
        """Rebuild the website and feeds from the store."""
        await self.upkeep.refresh_public()

    async def queued(self, names: Sequence[str]) -> None:
        """Deliveries on `names` were just queued here (see PublicUpkeep.queued)."""
        await self.upkeep.queued(names)

    async def reload(self) -> bool:
        """Reload the workspace; an invalid edit keeps the last good one running."""
        # The environment the service started with (serve: os.environ), not whatever
        # os.environ holds in the embedding process.
        settings = Settings.from_environ(self.settings.root, self.settings.environ)
        workspace, diag = load_workspace(self.settings.root, settings)
        if workspace is None:
            for problem in diag.errors:
                log.error("reload refused: %s", problem)
            log.error("the last good workspace keeps running; fix the errors and reload again")
            return False
        self.live.use(workspace)
        await self.live.start_channels()
        if self.scheduler is not None:
            await self.scheduler.load(workspace)
        await self.refresh_public()
        if self.settle:
            settle_heap()
        log.info("workspace reloaded: %s campaigns", len(workspace.campaigns))
        return True

    async def count_deliveries(self) -> dict[tuple[str, str], int]:
        """Deliveries by (channel, status), for /metrics (which decides how often)."""
        return await self.outbox.count_by_channel_and_status()


async def _open_engine(stack: contextlib.AsyncExitStack, settings: Settings) -> AsyncEngine:
    """The engine, migrated to the newest schema; disposed last."""
    engine = create_engine(settings.database_url)
    stack.push_async_callback(dispose_engine, engine)
    await upgrade_engine(engine)
    return engine


def _workers(
    settings: Settings, outbox: Outbox, content: ContentStore, metrics: Metrics
) -> Workers:
    """The delivery workers (not started); they get their channels from `Live.use`."""
    lease = timedelta(seconds=settings.lease_seconds)
    return Workers(
        outbox,
        content,
        {},
        WorkerSettings(concurrency=settings.workers, lease=lease),
        observe=metrics.observe_delivery,
    )


def _publisher(
    settings: Settings,
    engine: AsyncEngine,
    parts: tuple[Outbox, ContentStore, SqlSubscriberStore, Workers, Metrics, PublicSite],
) -> Publisher:
    """The publisher, with the digests of subscribers who chose daily or weekly."""
    outbox, content, subscribers, workers, metrics, public = parts
    audience = StoreAudience(subscribers, engine)
    digests = Digests(outbox, content, engine, audience, settings, on_enqueued=workers.wake)
    return Publisher(
        outbox,
        content,
        settings,
        on_enqueued=workers.wake,
        digests=digests,
        on_published=lambda source: metrics.publications.labels(source).inc(),
        on_created=public.created,
    )


def _staff(
    engine: AsyncEngine, live: Live, settings: Settings, publisher: Publisher, public: PublicSite
) -> tuple[Accounts, ReviewStore, Approvals]:
    """Staff accounts and the approval rule, enforced by the publisher and shown on the site."""
    accounts, reviews = Accounts(engine), ReviewStore(engine)
    notify = functools.partial(notify_approvers, live, accounts, settings.base_url)
    approvals = publisher.approvals = Approvals(reviews, AuditLog(engine), notify=notify)
    public.state.withdrawals = reviews.withdrawals
    return accounts, reviews, approvals


async def _deliver(stack: contextlib.AsyncExitStack, service: Service) -> None:
    """Resume queued publications, start the workers, the bounce receiver and the jobs
    that keep the site current and send confirmations owed."""
    publisher, upkeep = service.publisher, service.upkeep
    publisher.on_queued = upkeep.queued
    await publisher.resume()
    await upkeep.refresh_public()
    service.workers.start()
    receiver = bounce_receiver(
        service.settings, service.subscribers, domains=verp_domains(service.live)
    )
    await stack.enter_async_context(receiver)
    jobs = {
        "follow-public": service.public.follow(),
        "keep-public-current": upkeep.keep_public_current(),
        "follow-store": upkeep.follow_store(),
        "confirmations": service.confirmations.run(),
    }
    tasks = [asyncio.create_task(job, name=name) for name, job in jobs.items()]
    stack.push_async_callback(_cancel, tasks)


async def _cancel(tasks: Sequence[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def _start_scheduler(
    stack: contextlib.AsyncExitStack, service: Service, scheduler: Scheduler
) -> None:
    """Catch up on missed firings and run the schedules; the scheduler stops first on close."""
    stack.push_async_callback(scheduler.stop, service.settings.shutdown_timeout)
    await scheduler.start(service.workspace)
    service.metrics.snapshot.next_fire = scheduler.next_fire_times


@contextlib.asynccontextmanager
async def open_service(
    settings: Settings,
    *,
    schedule: bool = True,
    deliver: bool = True,
    static: StaticFiles | None = None,
    settle: bool = False,
    mailer: ConfirmationMailer | None = None,
) -> AsyncIterator[Service]:
    """Open the store, public site, publisher, workers and (optionally) the scheduler.

    `settle`: freeze the heap once started and after each reload (see settle_heap); for a
    long-running `serve`, not for short-lived embedding such as tests. `mailer` sends the
    confirmation emails (default: the workspace's subscriber email channel).
    """
    workspace = load_or_raise(settings.root, settings)
    async with contextlib.AsyncExitStack() as stack:
        engine = await _open_engine(stack, settings)
        outbox, content, metrics = Outbox(engine), ContentStore(engine), Metrics()
        public = PublicSite(settings.root / "public", content, settings.base_url, static=static)
        workers = _workers(settings, outbox, content, metrics)
        subscribers = SqlSubscriberStore(engine, settings.secret_key)
        tokens = SignedTokens(settings.secret_key)
        partners = PartnerStore(engine, lambda: settings.secret_key)
        publisher = _publisher(
            settings, engine, (outbox, content, subscribers, workers, metrics, public)
        )
        live = Live(
            settings, workspace, (subscribers, tokens, partners), public, outbox, publisher, workers
        )
        accounts, reviews, approvals = _staff(engine, live, settings, publisher, public)
        mailer = mailer or ChannelMailer(lambda: live.channels)
        confirmations = Confirmations(subscribers, tokens, mailer, settings.base_url)
        upkeep = PublicUpkeep(lambda: live.channels, public, content, reviews)
        live.use(workspace)
        stack.push_async_callback(live.close_channels)
        await live.start_channels()
        stack.push_async_callback(public.flush)
        stack.push_async_callback(workers.stop, settings.shutdown_timeout)
        await public.reload()
        scheduler = Scheduler(publisher, grace=settings.catch_up_grace) if schedule else None
        service = Service(
            settings, engine, live, outbox, content, public, upkeep, publisher, workers, metrics,
            subscribers, tokens, partners, accounts, approvals, confirmations, scheduler,
            settle,
        )  # fmt: skip
        if deliver:
            await _deliver(stack, service)
        if scheduler is not None:
            await _start_scheduler(stack, service, scheduler)
        if settle:
            settle_heap()
        yield service

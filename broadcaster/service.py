"""Everything `serve` runs, opened in one place and closed in reverse order."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from broadcaster.bounces.receiver import bounce_receiver
from broadcaster.channels import Channel, build_channels, postboxes
from broadcaster.channels.base import ListMailChannel, PublicChannel, RetryingChannel
from broadcaster.mail.notices import Notices
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
from broadcaster.staff.accounts import Accounts
from broadcaster.staff.audit import AuditLog
from broadcaster.staff.reviews import ReviewStore
from broadcaster.store import create_engine, upgrade_engine
from broadcaster.store.engine import dispose_engine
from broadcaster.store.tables import deliveries
from broadcaster.subscribers.confirmations import Confirmations
from broadcaster.subscribers.store import SqlSubscriberStore
from broadcaster.subscribers.tokens import SignedTokens
from broadcaster.web.metrics import Metrics
from broadcaster.workspace.diagnostics import WorkspaceError
from broadcaster.workspace.load import load_workspace
from broadcaster.workspace.models import Workspace

log = logging.getLogger(__name__)

# The site is checked at least this often for campaigns starting or expiring.
REFRESH_CEILING = timedelta(hours=1)


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
        if isinstance(channel, RetryingChannel):
            policies[name] = channel.retry_policy()
    return policies


@dataclass
class Service:
    """The running parts of Broadcaster and the one workspace they all use."""

    settings: Settings
    workspace: Workspace
    engine: AsyncEngine
    outbox: Outbox
    content: ContentStore
    public: PublicSite
    publisher: Publisher
    workers: Workers
    metrics: Metrics
    scheduler: Scheduler | None = None
    channels: Mapping[str, Channel] = field(default_factory=dict)
    subscribers: SqlSubscriberStore | None = None
    tokens: SignedTokens | None = None
    partners: PartnerStore | None = None
    # Sends the double opt-in emails owed (subscribes whose email failed, imports).
    confirmations: Confirmations | None = None
    # Long-lived channel resources (SMTP pools); replaced, and the old closed, on reload.
    channel_resources: contextlib.AsyncExitStack | None = None
    # Whether to call settle_heap() once started and after each reload (`serve` does).
    settle: bool = False
    accounts: Accounts | None = None
    approvals: Approvals | None = None

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
        self.use(workspace)
        await self.start_channels()
        if self.scheduler is not None:
            await self.scheduler.load(workspace)
        await self.refresh_public()
        if self.settle:
            settle_heap()
        log.info("workspace reloaded: %s campaigns", len(workspace.campaigns))
        return True

    async def refresh_public(self) -> None:
        """Rebuild the website and feeds from the store (start, reload, expiry times)."""
        for channel in self.channels.values():
            if isinstance(channel, PublicChannel):
                await channel.rebuild()

    async def queued(self, names: Sequence[str]) -> None:
        """Deliveries on channels `names` were just queued here: rebuild the website and
        feeds now, not once a worker has claimed them (their delivery then finds them so).
        Returns once the store read of those rebuilds is done: the workers, woken next,
        would otherwise keep the loop busy with their claims while it is made."""
        public: list[PublicChannel] = []
        for name in names:
            if isinstance(found := self.channels.get(name), PublicChannel):
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
            for channel in self.channels.values()
            if isinstance(channel, PublicChannel)
        ]
        return min((m for m in moments if m is not None), default=None)

    def verp_domains(self) -> set[str]:
        """The domains bounces come back to: those of the email channels to subscribers."""
        return {
            channel.bounce_domain
            for channel in self.channels.values()
            if isinstance(channel, ListMailChannel)
        }

    async def follow_store(self, interval: float = 2.0) -> None:
        """Rebuild when another host delivered a newer website or feeds publication."""
        names = [
            channel.name for channel in self.channels.values() if isinstance(channel, PublicChannel)
        ]
        seen = await self._public_state(names)
        while True:
            await asyncio.sleep(interval)
            try:
                latest = await self._public_state(names)
                if latest != seen:
                    seen = latest
                    await self.refresh_public()
            except Exception:
                log.exception("could not check the store for newer publications")

    async def _public_state(self, names: list[str]) -> tuple[tuple[int, int | None], int | None]:
        """What the website and feeds are built from: deliveries gone out, newest withdrawal."""
        withdrawn = None
        if self.approvals is not None:
            withdrawn = await self.approvals.reviews.latest_withdrawal()
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
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.public.changed(), max(wait.total_seconds(), 0.05))
                continue  # a delivery rebuilt it; recompute the next boundary
            if upcoming is not None and upcoming <= datetime.now(UTC) + timedelta(seconds=0.05):
                log.info("a campaign starts or expires now; rebuilding the website and feeds")
                # A timer may wake a hair early: build as of the boundary itself.
                await asyncio.sleep(max(0.0, (upcoming - datetime.now(UTC)).total_seconds()))
                await self.refresh_public()

    async def healthy(self) -> bool:
        """True when the store answers within two seconds."""
        try:
            async with asyncio.timeout(2):
                async with self.engine.connect() as conn:
                    await conn.execute(text("SELECT 1"))
        except Exception:
            log.warning("health check: the store does not answer", exc_info=True)
            return False
        return True

    async def count_deliveries(self) -> dict[tuple[str, str], int]:
        """Deliveries by (channel, status), for /metrics (which decides how often)."""
        d = deliveries.c
        query = select(d.channel, d.status, func.count()).group_by(d.channel, d.status)
        async with self.engine.connect() as conn:
            return {(row[0], row[1]): int(row[2]) for row in await conn.execute(query)}


@contextlib.asynccontextmanager
async def open_service(
    settings: Settings,
    *,
    schedule: bool = True,
    deliver: bool = True,
    static: StaticFiles | None = None,
    settle: bool = False,
) -> AsyncIterator[Service]:
    """Open the store, public site, publisher, workers and (optionally) the scheduler.

    `settle`: freeze the heap once started and after each reload (see settle_heap); for a
    long-running `serve`, not for short-lived embedding such as tests.
    """
    workspace = load_or_raise(settings.root, settings)
    engine = create_engine(settings.database_url)
    background: list[asyncio.Task[None]] = []
    service: Service | None = None
    stack = contextlib.AsyncExitStack()
    try:
        await upgrade_engine(engine)
        outbox = Outbox(engine)
        content = ContentStore(engine)
        metrics = Metrics()
        public = PublicSite(settings.root / "public", content, settings.base_url, static=static)
        workers = Workers(
            outbox,
            content,
            {},
            WorkerSettings(
                concurrency=settings.workers, lease=timedelta(seconds=settings.lease_seconds)
            ),
            observe=metrics.observe_delivery,
        )
        subscribers = SqlSubscriberStore(engine, settings.secret_key)
        digests = Digests(
            outbox,
            content,
            engine,
            StoreAudience(subscribers, engine),
            settings,
            on_enqueued=workers.wake,
        )
        publisher = Publisher(
            outbox,
            content,
            settings,
            on_enqueued=workers.wake,
            digests=digests,
            on_published=lambda source: metrics.publications.labels(source).inc(),
            on_created=public.created,
        )
        service = Service(
            settings, workspace, engine, outbox, content, public, publisher, workers, metrics
        )
        service.subscribers = subscribers
        service.tokens = SignedTokens(settings.secret_key)
        service.partners = PartnerStore(engine, lambda: settings.secret_key)
        service.accounts = Accounts(engine)
        # Confirmation and approver mail, through the email channels of the moment.
        notices = Notices(
            lambda: postboxes(service.channels if service else {}),
            service.accounts,
            settings.base_url,
        )
        reviews = ReviewStore(engine)
        service.approvals = publisher.approvals = Approvals(
            reviews, AuditLog(engine), notify=notices.notify_approvers
        )
        public.state.withdrawals = reviews.withdrawals
        service.confirmations = Confirmations(
            subscribers,
            service.tokens,
            notices,
            settings.base_url,
        )
        service.use(workspace)
        await service.start_channels()
        await public.reload()
        if deliver:
            publisher.on_queued = service.queued
            await publisher.resume()
            await service.refresh_public()
            workers.start()
            await stack.enter_async_context(
                bounce_receiver(settings, subscribers, domains=service.verp_domains())
            )
            for name, job in (
                ("follow-public", public.follow()),
                ("keep-public-current", service.keep_public_current()),
                ("follow-store", service.follow_store()),
                ("confirmations", service.confirmations.run()),
            ):
                background.append(asyncio.create_task(job, name=name))
        if schedule:
            service.scheduler = Scheduler(publisher, grace=settings.catch_up_grace)
            await service.scheduler.start(workspace)
            metrics.snapshot.next_fire = service.scheduler.next_fire_times
        service.settle = settle
        if settle:
            settle_heap()
        yield service
    finally:
        if service is not None:
            if service.scheduler is not None:
                await service.scheduler.stop(settings.shutdown_timeout)
            await service.workers.stop(settings.shutdown_timeout)
            await service.public.flush()
            if service.channel_resources is not None:
                await service.channel_resources.aclose()
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        await stack.aclose()
        await dispose_engine(engine)

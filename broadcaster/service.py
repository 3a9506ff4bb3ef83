"""Everything `serve` runs, opened in one `AsyncExitStack` and so closed in reverse order.

`Service` is the frozen bundle of those open parts; `Live` holds what a reload replaces.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from broadcaster.alerts.public import PublicAlerts
from broadcaster.bounces.receiver import bounce_receiver
from broadcaster.channels import Channel, postboxes
from broadcaster.fanpages.store import FanpageStore, alert_mail
from broadcaster.mail.notices import Notices
from broadcaster.outbox.content import ContentStore
from broadcaster.outbox.outbox import Outbox
from broadcaster.outbox.workers import Workers, WorkerSettings
from broadcaster.partners.store import PartnerStore
from broadcaster.publishing.approval import Approvals
from broadcaster.publishing.digests.fire import Digests
from broadcaster.publishing.digests.store import StoreAudience
from broadcaster.publishing.live import Live, load_or_raise, settle_heap
from broadcaster.publishing.nodes import follow_workspace
from broadcaster.publishing.publisher import Publisher
from broadcaster.publishing.scheduler import Scheduler
from broadcaster.publishing.upkeep import PublicUpkeep
from broadcaster.settings import Settings
from broadcaster.site.directory import CAP_INDEX
from broadcaster.site.public import PublicSite
from broadcaster.site.static import StaticFiles
from broadcaster.staff.accounts import Accounts
from broadcaster.staff.audit import AuditLog
from broadcaster.staff.reviews import ReviewStore
from broadcaster.store import create_engine, upgrade_engine
from broadcaster.store.engine import dispose_engine
from broadcaster.store.notify import WORKSPACE, Notifications, listening
from broadcaster.subscribers.confirmations import ConfirmationMailer, Confirmations
from broadcaster.subscribers.store import SqlSubscriberStore
from broadcaster.subscribers.tokens import SignedTokens
from broadcaster.web.alerts import ALERTS
from broadcaster.web.app import CleanupContext, Opener
from broadcaster.web.app import make_app as build_app
from broadcaster.web.keys import (
    ACCOUNTS,
    APPROVALS,
    CONFIRMATIONS,
    COUNT_DELIVERIES,
    ENGINE,
    LIVE,
    METRICS,
    OUTBOX,
    PARTNERS,
    PUBLISHER,
    REFRESH_PUBLIC,
    RELOAD,
    SCHEDULER,
    SETTINGS,
    SUBSCRIBERS,
    TOKENS,
    WORKERS,
)
from broadcaster.web.metrics import Metrics
from broadcaster.web.subscriptions import Limits
from broadcaster.web.websub import HubLimits
from broadcaster.workspace.diagnostics import WorkspaceError
from broadcaster.workspace.models import Workspace
from broadcaster.workspace.quarantine import Quarantined

log = logging.getLogger(__name__)


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
    # Word to and from the other nodes on the same PostgreSQL store (none on SQLite).
    notifications: Notifications
    reloading: asyncio.Lock = field(default_factory=asyncio.Lock, compare=False)

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

    async def reload(self, *, announce: bool = True) -> bool:
        """Reload the workspace; an invalid edit keeps the last good one running.

        `announce`: first tell the other nodes, which reload the same shared files at the
        same time (and refuse them as this one does); not when this reload is itself one
        of those."""
        if announce:
            await self.notifications.send(WORKSPACE)
        async with self.reloading:  # one at a time: the newest files are applied last
            return await self._reload()

    async def _reload(self) -> bool:
        # The environment the service started with (serve: os.environ), not whatever
        # os.environ holds in the embedding process.
        settings = Settings.from_environ(self.settings.root, self.settings.environ)
        try:
            # Off the event loop: rendering every body may take seconds (within its limits).
            workspace, held = await asyncio.to_thread(
                load_or_raise, self.settings.root, settings, self.live.workspace
            )
        except WorkspaceError as exc:
            for problem in exc.problems:
                log.error("reload refused: %s", problem)
            log.error("the last good workspace keeps running; fix the errors and reload again")
            return False
        self.live.use(workspace, held)
        await self.live.start_channels()
        if self.scheduler is not None:
            await self.scheduler.load(workspace)
        await self.refresh_public()
        if self.settle:
            settle_heap()
        log.info(
            "workspace reloaded: %s campaigns, %s quarantined", len(workspace.campaigns), len(held)
        )
        return True

    async def count_deliveries(self) -> dict[tuple[str, str], int]:
        """Deliveries by (channel, status), for /metrics (which decides how often)."""
        return await self.outbox.count_by_channel_and_status()


async def _open_store(
    stack: contextlib.AsyncExitStack, settings: Settings, listen: bool
) -> tuple[AsyncEngine, Notifications, Workspace, tuple[Quarantined, ...]]:
    """The engine, migrated and disposed last; this node hearing the others from before it
    reads the workspace (store/notify.py); the workspace and the campaigns quarantined."""
    engine = create_engine(settings.database_url)
    stack.push_async_callback(dispose_engine, engine)
    await upgrade_engine(engine)
    notifications = await stack.enter_async_context(listening(engine, listen))
    notifications.reading()
    workspace, held = await asyncio.to_thread(load_or_raise, settings.root, settings)
    return engine, notifications, workspace, held


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
    digests = Digests(outbox, content, audience, settings, on_enqueued=workers.wake)
    return Publisher(
        outbox,
        content,
        settings,
        on_enqueued=workers.wake,
        digests=digests,
        on_published=metrics.count_publication,
        on_created=public.created,
    )


def _staff(
    engine: AsyncEngine, live: Live, settings: Settings, publisher: Publisher, public: PublicSite
) -> tuple[Accounts, ReviewStore, Approvals, Notices]:
    """Staff accounts and the approval rule, enforced by the publisher and shown on the site;
    the notices (confirmations, approver and admin mail) go out through the email channels of
    the moment."""
    accounts, reviews = Accounts(engine), ReviewStore(engine)
    notices = Notices(lambda: postboxes(live.channels), accounts, settings.base_url)
    approvals = Approvals(reviews, AuditLog(engine), notify=notices.notify_approvers)
    publisher.approvals = approvals
    public.state.withdrawals = reviews.withdrawals
    # The admins hear by email when a channel stops (a fan-page token expired).
    live.fanpages = FanpageStore(engine, on_alert=lambda a: notices.notify_admins(*alert_mail(a)))
    return accounts, reviews, approvals, notices


async def _deliver(stack: contextlib.AsyncExitStack, service: Service) -> None:
    """Resume queued publications, start the workers, the bounce receiver and the jobs
    that keep the site current and send confirmations owed."""
    publisher, upkeep = service.publisher, service.upkeep
    publisher.on_queued = upkeep.queued
    await publisher.resume()
    await upkeep.refresh_public()
    service.workers.start()
    receiver = bounce_receiver(
        service.settings, service.subscribers, domains=service.live.bounce_domains()
    )
    await stack.enter_async_context(receiver)
    jobs = {
        "follow-public": service.public.follow(),
        "keep-public-current": upkeep.keep_public_current(),
        "follow-store": upkeep.follow_store(service.notifications),
        "follow-workspace": follow_workspace(
            service.notifications, lambda: service.reload(announce=False)
        ),
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
    record_quarantine: bool = False,
    listen: bool = False,
) -> AsyncIterator[Service]:
    """Open the store, public site, publisher, workers and (optionally) the scheduler.

    `settle`: freeze the heap once started and after each reload (see settle_heap); for a
    long-running `serve`, not for short-lived embedding such as tests. `mailer` sends the
    confirmation emails (default: the workspace's subscriber email channel).
    `record_quarantine`: write the campaigns quarantined to var/ for `status` (`serve`).
    `listen`: hear the other nodes even without `deliver` (`worker`).
    """
    async with contextlib.AsyncExitStack() as stack:
        engine, notifications, workspace, held = await _open_store(
            stack, settings, listen or deliver
        )
        outbox, content, metrics = Outbox(engine), ContentStore(engine), Metrics()
        public = PublicSite(settings.root / "public", content, settings.base_url, static=static)
        public.list_feed(CAP_INDEX)  # the public alerts' index (web/alerts.py)
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
        accounts, reviews, approvals, notices = _staff(engine, live, settings, publisher, public)
        confirmations = Confirmations(subscribers, tokens, mailer or notices, settings.base_url)
        upkeep = PublicUpkeep(lambda: live.channels, public, content, reviews)
        live.record_quarantine = record_quarantine
        live.use(workspace, held)
        stack.push_async_callback(live.close_channels)
        await live.start_channels()
        stack.push_async_callback(public.flush)
        stack.push_async_callback(workers.stop, settings.shutdown_timeout)
        await public.reload()
        scheduler = Scheduler(publisher, grace=settings.catch_up_grace) if schedule else None
        service = Service(
            settings, engine, live, outbox, content, public, upkeep, publisher, workers, metrics,
            subscribers, tokens, partners, accounts, approvals, confirmations, scheduler,
            settle, notifications,
        )  # fmt: skip
        if deliver:
            await _deliver(stack, service)
        if scheduler is not None:
            await _start_scheduler(stack, service, scheduler)
        if settle:
            settle_heap()
        yield service


# The whole bundle, for whoever embeds the app (tests, `serve`); handlers use the parts.
SERVICE = web.AppKey("service", Service)


def expose(app: web.Application, service: Service) -> None:
    """Put each open part of `service` under its key (on startup, before any request)."""
    app[SERVICE] = service
    app[SETTINGS] = service.settings
    app[LIVE] = service.live
    app[ENGINE] = service.engine
    app[OUTBOX] = service.outbox
    app[WORKERS] = service.workers
    app[PUBLISHER] = service.publisher
    app[METRICS] = service.metrics
    app[SUBSCRIBERS] = service.subscribers
    app[TOKENS] = service.tokens
    app[CONFIRMATIONS] = service.confirmations
    app[PARTNERS] = service.partners
    app[ACCOUNTS] = service.accounts
    app[APPROVALS] = service.approvals
    if service.scheduler is not None:
        app[SCHEDULER] = service.scheduler
    app[RELOAD] = service.reload
    app[REFRESH_PUBLIC] = service.refresh_public
    app[COUNT_DELIVERIES] = service.count_deliveries
    app[ALERTS] = PublicAlerts.open(
        service.outbox, lambda: service.live.workspace, service.settings
    )


def _serving(settings: Settings, mailer: ConfirmationMailer | None) -> Opener:
    """Open the service when the app starts, its parts under their keys; close it on cleanup."""

    def opener(static: StaticFiles) -> CleanupContext:
        async def context(app: web.Application) -> AsyncIterator[None]:
            async with open_service(
                settings, static=static, settle=True, mailer=mailer, record_quarantine=True
            ) as service:
                expose(app, service)
                yield

        return context

    return opener


def make_app(
    settings: Settings,
    *,
    watch: bool = False,
    mailer: ConfirmationMailer | None = None,
    limits: Limits | None = None,
    hub_limits: HubLimits | None = None,
) -> web.Application:
    """The `serve` application: the service opens on startup and closes on cleanup.

    `mailer` sends the confirmation emails (default: the subscriber email channel; tests
    pass one that records); `limits` are the subscribe form's rate limits, `hub_limits`
    the WebSub hub's.
    """
    return build_app(
        settings, _serving(settings, mailer), watch=watch, limits=limits, hub_limits=hub_limits
    )

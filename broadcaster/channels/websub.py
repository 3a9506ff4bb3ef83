"""The feed channel as its own WebSub hub: subscriptions to its feeds, and their distribution.

A subscription request (`POST /websub`, broadcaster.web.websub) is checked here: its topic
must be a feed the site serves. The hub answers 202 at once and verifies the intent in the
background; only a confirmed subscription is stored (broadcaster.partners.hub).

A publication on the feed channel makes, besides the one delivery that rebuilds the feeds,
one delivery per active subscription to a feed the campaign is in (its languages, `all`
and each of its topics, every format), recipient `websub:<id>`. Those deliveries go
through the outbox like any other (leases, retries with backoff, the attempt log); a batch
of them first makes sure the feeds are rebuilt, then posts each subscriber the whole feed
as it is then.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from broadcaster.outbox.jobs import DeliveryJob, Progress
from broadcaster.outbox.outcomes import Deferred, DeliveryRejected, RetryLater, Withdrawn
from broadcaster.partners.guard import AllowNetworks
from broadcaster.partners.hub import HubStore, recipient, subscription_id_of
from broadcaster.partners.sender import Gone
from broadcaster.partners.websub import (
    Distribution,
    HubRequest,
    HubRequestError,
    LeaseLimits,
    WebSubSender,
    parse_request,
)
from broadcaster.site.headers import FEED_TYPES, HUB_PATH
from broadcaster.text.render import Publication
from broadcaster.workspace.models import DEFAULT_LOCALE, Campaign

if TYPE_CHECKING:
    from broadcaster.site.public import PublicSite

log = logging.getLogger(__name__)

FORMATS = ("rss", "atom", "json")  # as site/feeds.py writes them (not imported: feedgen)

DAY = 86400
LEASE_MARGIN = timedelta(seconds=5)  # kept between the last request's timeout and the lease


class WebSubOptions(BaseModel):
    """The feed channel's `websub:` options: the hub's leases, timeout and SSRF guard."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    lease_seconds: int = Field(default=10 * DAY, ge=60)
    min_lease_seconds: int = Field(default=3600, ge=60)
    max_lease_seconds: int = Field(default=30 * DAY, ge=60)
    timeout: float = Field(default=10, gt=0, le=120)
    connections: int = Field(default=100, ge=1, le=1000)
    allow_networks: AllowNetworks = Field(default_factory=list)

    def limits(self) -> LeaseLimits:
        low = min(self.min_lease_seconds, self.max_lease_seconds)
        return LeaseLimits(
            max(low, min(self.lease_seconds, self.max_lease_seconds)),
            low,
            self.max_lease_seconds,
        )


@dataclass(frozen=True)
class HubAnswer:
    """What `POST /websub` answers: 202 while verifying, else an error and its reason."""

    status: int
    message: str


def topic_urls(publication: Publication) -> set[str]:
    """Every feed URL the campaign is listed in: its languages × (`all` and its topics) ×
    every format."""
    return campaign_topic_urls(publication.campaign, publication.base_url)


def campaign_topic_urls(campaign: Campaign, base: str) -> set[str]:
    """`topic_urls` of a campaign as the workspace has it."""
    return {
        f"{base}/feeds/{locale}/{topic}.{fmt}"
        for locale in campaign.locales
        for topic in ("all", *campaign.topics)
        for fmt in FORMATS
    }


class FeedHub:
    """The hub of one feed channel: subscription requests, recipients, distribution."""

    def __init__(
        self,
        options: WebSubOptions,
        store: HubStore | None,
        public: PublicSite | None,
        base_url: str,
    ) -> None:
        self.options = options
        self.store = store
        self.public = public
        self.base_url = base_url.rstrip("/")
        self.sender = WebSubSender(
            options.timeout,
            list(options.allow_networks),
            f"{self.base_url}/{HUB_PATH}",
            options.connections,
        )
        self._verifying: set[asyncio.Task[None]] = set()

    async def start(self, stack: AsyncExitStack) -> None:
        """Open the guarded HTTP session; closed, after pending verifications, with `stack`."""
        await self.sender.start(stack)
        stack.push_async_callback(self._stop_verifying)

    async def _stop_verifying(self) -> None:
        for task in list(self._verifying):
            task.cancel()
        await asyncio.gather(*self._verifying, return_exceptions=True)

    def _feed_path(self, topic: str) -> str | None:
        """The topic's path in the public tree when it is a feed served now, else None."""
        prefix = f"{self.base_url}/"
        if self.public is None or not topic.startswith(prefix):
            return None
        path = topic.removeprefix(prefix)
        served = self.public.static.get(path) if path and ".." not in path else None
        if served is None or served.content_type.split(";", 1)[0] not in FEED_TYPES:
            return None
        return path

    def request(self, form: Mapping[str, str]) -> HubAnswer:
        """Check a subscription request; when it is sound, verify it in the background."""
        if not self.options.enabled or self.store is None:
            return HubAnswer(404, "this service runs no WebSub hub")
        try:
            request = parse_request(form, self.options.limits())
        except HubRequestError as exc:
            return HubAnswer(400, str(exc))
        path = self._feed_path(request.topic)
        if path is None:
            return HubAnswer(
                400,
                f"hub.topic {request.topic!r} is not a feed of this site; copy a feed "
                f"address from {self.base_url}/{DEFAULT_LOCALE}/feeds/",
            )
        task = asyncio.create_task(self._verify_then_store(request, path))
        self._verifying.add(task)
        task.add_done_callback(self._verifying.discard)
        return HubAnswer(202, "accepted: the hub now verifies the intent at hub.callback")

    async def _verify_then_store(self, request: HubRequest, path: str) -> None:
        try:
            await self._verify_then_store_now(request, path)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the store is away: the subscriber asks again
            log.warning("WebSub %s to %s not recorded: %s", request.mode, request.topic, exc)

    async def _verify_then_store_now(self, request: HubRequest, path: str) -> None:
        assert self.store is not None
        refused = await self.sender.verify(request)
        if refused is not None:
            log.info("WebSub %s to %s not verified: %s", request.mode, request.topic, refused)
            return
        if request.mode == "unsubscribe":
            await self.store.unsubscribe(request.topic, request.callback)
            log.info("WebSub unsubscribed %s from %s", request.callback, request.topic)
            return
        parts = path.split("/")
        locale = parts[1] if len(parts) > 2 and parts[0] == "feeds" else DEFAULT_LOCALE
        await self.store.subscribe(
            request.topic, request.callback, locale, request.lease_seconds, request.secret
        )
        log.info(
            "WebSub subscribed %s to %s for %s s",
            request.callback,
            request.topic,
            request.lease_seconds,
        )

    async def verified(self) -> None:
        """Wait until the verifications under way are done (for tests and benchmarks)."""
        while self._verifying:
            await asyncio.gather(*list(self._verifying), return_exceptions=True)

    async def recipients(self, publication: Publication) -> AsyncIterator[list[tuple[str, str]]]:
        """(recipient, locale) of every active subscription to a feed the campaign is in."""
        if not self.options.enabled or self.store is None:
            return
        async for batch in self.store.active(topic_urls(publication)):
            yield [(recipient(subscription_id), locale) for subscription_id, locale in batch]

    async def withdrawal_recipients(self, campaign_id: str) -> list[tuple[str, str]]:
        """(recipient, locale) of every active subscription to a feed the campaign is in,
        as the workspace has it: a withdrawal changes those feeds."""
        workspace = self.public.workspace if self.public is not None else None
        campaign = workspace.campaigns.get(campaign_id) if workspace is not None else None
        if not self.options.enabled or self.store is None or campaign is None:
            return []
        topics = campaign_topic_urls(campaign, self.base_url)
        return [
            (recipient(subscription_id), locale)
            async for batch in self.store.active(topics)
            for subscription_id, locale in batch
        ]

    async def _distributions(
        self,
        store: HubStore,
        public: PublicSite,
        pushes: Sequence[tuple[int, DeliveryJob]],
        progress: Progress,
    ) -> list[tuple[int, int, Distribution]]:
        """What to post to whom (index, subscription id, feed); reports the pushes with no
        live subscription or no feed served any more."""
        ids = [subscription_id_of(job.delivery.recipient) for _, job in pushes]
        found = await store.find([i for i in ids if i is not None])
        now = datetime.now(UTC)
        sends: list[tuple[int, int, Distribution]] = []
        for (index, _), subscription_id in zip(pushes, ids, strict=True):
            subscription = found.get(subscription_id) if subscription_id is not None else None
            if subscription is None:
                progress.report(index, Withdrawn("unsubscribed from the hub"))
                continue
            if subscription.expires_at <= now:
                progress.report(index, Withdrawn("its WebSub lease expired"))
                continue
            path = self._feed_path(subscription.topic)
            served = public.static.get(path) if path is not None else None
            if served is None:
                gone = DeliveryRejected(f"{subscription.topic} is no longer served")
                progress.report(index, gone)
                continue
            item = Distribution(
                subscription.callback,
                subscription.topic,
                served.body,
                served.content_type,
                subscription.secret,
            )
            sends.append((index, subscription.id, item))
        return sends

    async def distribute(
        self,
        pushes: Sequence[tuple[int, DeliveryJob]],
        rebuild: Callable[[], Awaitable[str]],
        progress: Progress,
    ) -> None:
        """Post each subscriber its feed as it is once rebuilt, each once it has a turn;
        reports the outcome of `jobs[index]` for each (index, job) of `pushes`."""
        if self.store is None or self.public is None:
            for index, _ in pushes:
                progress.report(index, DeliveryRejected("the WebSub hub runs only in `serve`"))
            return
        try:
            await rebuild()  # the feeds first: cheap when they are current already
        except (RetryLater, DeliveryRejected) as exc:
            for index, _ in pushes:
                progress.report(index, RetryLater(f"the feeds could not be rebuilt: {exc}"))
            return
        store = self.store
        sends = await self._distributions(store, self.public, pushes, progress)
        # Requests start while there is time for them to end (their timeout) well before the
        # lease does, and once they have a turn (outbox/recording.py); later ones are handed
        # back untried, due again at once.
        lease_ends = min(job.delivery.lease_expires_at for _, job in pushes)
        start_before = lease_ends - timedelta(seconds=self.options.timeout) - LEASE_MARGIN
        gate = asyncio.Semaphore(self.options.connections)

        async def send(index: int, subscription_id: int, item: Distribution) -> None:
            async with gate:
                if datetime.now(UTC) > start_before or not await progress.admit(index):
                    late = Deferred("the batch ran out of time before this was sent")
                    progress.report(index, late)
                    return
                result = await self.sender.distribute(item)
            progress.report(index, result)
            if isinstance(result, Gone):
                await store.remove(subscription_id)

        await asyncio.gather(*(send(*each) for each in sends))

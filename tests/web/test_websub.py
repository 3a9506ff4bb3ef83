"""The service as its own WebSub hub, with a real subscriber: an aiohttp app on port 0 that
answers intent verification and records every distribution."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import feedparser  # type: ignore[import-untyped]
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from multidict import CIMultiDict

from broadcaster.channels.feed import FeedChannel
from broadcaster.outbox.tables import PublicationSource
from broadcaster.service import SERVICE, Service, make_app
from broadcaster.store.testing import postgres_fresh_database, postgres_url
from broadcaster.web.ratelimit import Rate
from broadcaster.web.websub import HubLimits
from tests.conftest import copy_workspace
from tests.web.conftest import BASE_URL, FORM, GENEROUS, Client, form_body, settings_for

TOPIC = f"{BASE_URL}/feeds/vi/all.rss"
SECRET = "a-subscriber-secret-0123456789"
CAMPAIGN = "online-submission"
INTERNAL = "\nwebsub:\n  allow_networks: [127.0.0.0/8]\n  min_lease_seconds: 60\n"


@dataclass
class Subscriber:
    """A newsroom's receiving end: confirms what it asked for, records what it gets."""

    wanted: set[tuple[str, str]] = field(default_factory=set)  # (mode, topic)
    verifications: list[dict[str, str]] = field(default_factory=list)
    received: list[tuple[CIMultiDict[str], bytes]] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)  # statuses to answer first, then 204
    port: int = 0

    def callback(self, name: str = "inbox") -> str:
        return f"http://127.0.0.1:{self.port}/{name}"

    async def verify(self, request: web.Request) -> web.Response:
        query = dict(request.query)
        self.verifications.append(query)
        if (query.get("hub.mode", ""), query.get("hub.topic", "")) not in self.wanted:
            return web.Response(status=404)
        return web.Response(text=query["hub.challenge"])

    async def receive(self, request: web.Request) -> web.Response:
        self.received.append((request.headers.copy(), await request.read()))
        status = self.answers.pop(0) if self.answers else 204
        return web.Response(status=status, headers={"Retry-After": "120"} if status == 503 else {})


@contextlib.asynccontextmanager
async def subscriber_app() -> AsyncIterator[Subscriber]:
    subscriber = Subscriber()
    app = web.Application()
    app.router.add_get("/{name}", subscriber.verify)
    app.router.add_post("/{name}", subscriber.receive)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    subscriber.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield subscriber
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def serving(
    workspace: Path,
    database_url: str | None = None,
    feeds_extra: str = INTERNAL,
    hub_limits: HubLimits | None = None,
) -> AsyncIterator[Client]:
    feeds = workspace / "channels" / "feeds.yaml"
    feeds.write_text(feeds.read_text() + feeds_extra)
    environ = {"BROADCASTER_DATABASE_URL": database_url} if database_url else None
    app = make_app(settings_for(workspace, environ), limits=GENEROUS, hub_limits=hub_limits)
    async with TestClient(TestServer(app)) as client:
        yield client


def service_of(client: Client) -> Service:
    assert client.app is not None
    return client.app[SERVICE]


def hub_of(client: Client) -> FeedChannel:
    channel = service_of(client).channels["feeds"]
    assert isinstance(channel, FeedChannel)
    return channel


async def hub_request(client: Client, **fields: str) -> tuple[int, str]:
    response = await client.post(
        "/websub",
        data=form_body({f"hub.{name}": value for name, value in fields.items()}),
        headers={"Content-Type": FORM},
    )
    return response.status, await response.text()


async def eventually(check: Callable[[], Awaitable[bool]], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {within} s")
        await asyncio.sleep(0.05)


async def publish(client: Client, campaign: str = CAMPAIGN) -> None:
    await service_of(client).publisher.publish(
        campaign, ["website", "feeds"], source=PublicationSource.CLI
    )


@pytest_asyncio.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest) -> AsyncIterator[str | None]:
    if request.param == "sqlite":
        yield None
        return
    url = postgres_url()
    if url is None:
        pytest.skip("BROADCASTER_TEST_DATABASE_URL is not set")
    async with postgres_fresh_database(url) as fresh:
        yield fresh


async def test_a_subscriber_verifies_its_intent_and_gets_each_publication_signed(
    tmp_path: Path, database_url: str | None
) -> None:
    async with (
        subscriber_app() as newsroom,
        serving(copy_workspace(tmp_path / "ws"), database_url) as client,
    ):
        feed = await client.get("/feeds/vi/all.rss")
        assert feed.status == 200
        assert f'<{BASE_URL}/websub>; rel="hub"' in feed.headers["Link"]
        assert f'<{TOPIC}>; rel="self"' in feed.headers["Link"]

        newsroom.wanted.add(("subscribe", TOPIC))
        status, text = await hub_request(
            client,
            mode="subscribe",
            topic=TOPIC,
            callback=newsroom.callback(),
            lease_seconds="3600",
            secret=SECRET,
        )
        assert status == 202, text
        await hub_of(client).hub.verified()
        (asked,) = newsroom.verifications
        assert asked["hub.mode"] == "subscribe"
        assert asked["hub.topic"] == TOPIC
        assert asked["hub.lease_seconds"] == "3600"
        assert asked["hub.challenge"]

        await publish(client)

        async def pushed() -> bool:
            return bool(newsroom.received)

        await eventually(pushed, 10, "a distribution")
        headers, body = newsroom.received[0]
        expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(headers["X-Hub-Signature"], expected)
        assert headers["Content-Type"].startswith("application/rss+xml")
        assert f'<{TOPIC}>; rel="self"' in headers["Link"]
        assert f'<{BASE_URL}/websub>; rel="hub"' in headers["Link"]
        parsed = feedparser.parse(body)
        assert parsed.bozo == 0, parsed.get("bozo_exception")
        assert any(CAMPAIGN in entry.link for entry in parsed.entries)
        served = await (await client.get("/feeds/vi/all.rss")).read()
        assert body == served  # the whole feed, as the site serves it

        # Unsubscribing is verified too; afterwards nothing more arrives.
        newsroom.wanted.add(("unsubscribe", TOPIC))
        status, _ = await hub_request(
            client, mode="unsubscribe", topic=TOPIC, callback=newsroom.callback()
        )
        assert status == 202
        await hub_of(client).hub.verified()
        assert newsroom.verifications[-1]["hub.mode"] == "unsubscribe"
        before = len(newsroom.received)
        await publish(client, "support-contacts")
        await asyncio.sleep(1.0)
        assert len(newsroom.received) == before


async def test_without_a_secret_the_distribution_is_unsigned_and_a_renewal_keeps_one_lease(
    tmp_path: Path,
) -> None:
    async with subscriber_app() as newsroom, serving(copy_workspace(tmp_path / "ws")) as client:
        topic = f"{BASE_URL}/feeds/en/all.atom"
        newsroom.wanted.add(("subscribe", topic))
        for lease in ("120", "7200"):
            status, _ = await hub_request(
                client,
                mode="subscribe",
                topic=topic,
                callback=newsroom.callback(),
                lease_seconds=lease,
            )
            assert status == 202
            await hub_of(client).hub.verified()
        assert [v["hub.lease_seconds"] for v in newsroom.verifications] == ["120", "7200"]
        store = service_of(client).partners.hub
        assert await store.count_active() == 1
        await publish(client)

        async def pushed() -> bool:
            return bool(newsroom.received)

        await eventually(pushed, 10, "a distribution")
        headers, body = newsroom.received[0]
        assert "X-Hub-Signature" not in headers
        assert headers["Content-Type"].startswith("application/atom+xml")
        assert feedparser.parse(body).bozo == 0


async def test_requests_that_cannot_be_served_say_what_to_fix(tmp_path: Path) -> None:
    async with subscriber_app() as newsroom, serving(copy_workspace(tmp_path / "ws")) as client:
        callback = newsroom.callback()
        cases = {
            "hub.mode": {"mode": "publish", "topic": TOPIC, "callback": callback},
            "hub.callback": {"mode": "subscribe", "topic": TOPIC, "callback": "ftp://x/"},
            "not a feed of this site": {
                "mode": "subscribe",
                "topic": "https://elsewhere.example/feed",
                "callback": callback,
            },
            "hub.secret": {
                "mode": "subscribe",
                "topic": TOPIC,
                "callback": callback,
                "secret": "x" * 200,
            },
            "hub.lease_seconds": {
                "mode": "subscribe",
                "topic": TOPIC,
                "callback": callback,
                "lease_seconds": "soon",
            },
        }
        for expected, fields in cases.items():
            status, text = await hub_request(client, **fields)
            assert status == 400, (fields, text)
            assert expected in text
        assert newsroom.verifications == []
        response = await client.post(
            "/websub", data=b"{}", headers={"Content-Type": "application/json"}
        )
        assert response.status == 415


async def test_a_callback_inside_the_service_network_is_refused_by_the_ssrf_guard(
    tmp_path: Path,
) -> None:
    async with (
        subscriber_app() as newsroom,
        serving(copy_workspace(tmp_path / "ws"), feeds_extra="") as client,
    ):
        newsroom.wanted.add(("subscribe", TOPIC))
        status, _ = await hub_request(
            client, mode="subscribe", topic=TOPIC, callback=newsroom.callback()
        )
        assert status == 202  # accepted for verification, which the guard then refuses
        await hub_of(client).hub.verified()
        assert newsroom.verifications == []
        assert await service_of(client).partners.hub.count_active() == 0


async def test_subscription_requests_are_rate_limited(tmp_path: Path) -> None:
    limits = HubLimits(per_client=Rate(3, 60.0), per_callback_host=Rate(100, 60.0))
    async with (
        subscriber_app() as newsroom,
        serving(copy_workspace(tmp_path / "ws"), hub_limits=limits) as client,
    ):
        statuses = []
        for _ in range(4):
            status, _ = await hub_request(
                client, mode="subscribe", topic=TOPIC, callback=newsroom.callback()
            )
            statuses.append(status)
        assert statuses == [202, 202, 202, 429]
        response = await client.post(
            "/websub",
            data=form_body({"hub.mode": "subscribe"}),
            headers={"Content-Type": FORM},
        )
        assert response.status == 429
        assert int(response.headers["Retry-After"]) >= 1


async def test_a_withdrawal_pushes_the_feeds_with_the_entry_marked_withdrawn(
    tmp_path: Path,
) -> None:
    async with subscriber_app() as newsroom, serving(copy_workspace(tmp_path / "ws")) as client:
        newsroom.wanted.add(("subscribe", TOPIC))
        status, _ = await hub_request(
            client, mode="subscribe", topic=TOPIC, callback=newsroom.callback(), secret=SECRET
        )
        assert status == 202
        await hub_of(client).hub.verified()
        await publish(client)

        async def pushes(count: int) -> Callable[[], Awaitable[bool]]:
            async def check() -> bool:
                return len(newsroom.received) >= count

            return check

        await eventually(await pushes(1), 10, "the distribution of the publication")
        service = service_of(client)
        revision = service.workspace.campaigns[CAMPAIGN].revision
        assert service.approvals.reviews is not None
        await service.approvals.reviews.withdraw(CAMPAIGN, revision, None, "superseded")
        receipt = await service.publisher.withdraw(CAMPAIGN, source=PublicationSource.ADMIN)
        assert receipt.deliveries >= 1
        await eventually(await pushes(2), 10, "the distribution of the withdrawal")
        headers, body = newsroom.received[-1]
        expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        assert headers["X-Hub-Signature"] == expected
        titles = [entry.title for entry in feedparser.parse(body).entries]
        assert any(title.startswith("[Đã thu hồi]") for title in titles), titles


async def test_a_busy_subscriber_is_retried_later_and_a_gone_one_is_dropped(
    tmp_path: Path,
) -> None:
    async with subscriber_app() as newsroom, serving(copy_workspace(tmp_path / "ws")) as client:
        busy, gone = newsroom.callback("busy"), newsroom.callback("gone")
        newsroom.wanted.add(("subscribe", TOPIC))
        for callback in (busy, gone):
            status, _ = await hub_request(client, mode="subscribe", topic=TOPIC, callback=callback)
            assert status == 202
        await hub_of(client).hub.verified()
        service = service_of(client)
        assert await service.partners.hub.count_active() == 2
        newsroom.answers = [503, 410]  # in the order they arrive: one of each
        published = await service.publisher.publish(
            CAMPAIGN, ["feeds"], source=PublicationSource.CLI
        )

        async def settled() -> bool:
            progress = await service.outbox.progress(published.publication_id)
            counts = {str(status): n for status, n in progress.get("feeds", {}).items()}
            return sum(counts.values()) == 3 and not {"created", "sending"} & set(counts)

        await eventually(settled, 10, "the first attempts")
        progress = await service.outbox.progress(published.publication_id)
        assert progress["feeds"] == {
            "delivered": 1,  # the rebuild
            "temporary-failure": 1,  # 503: tried again later, not before Retry-After
            "permanent-failure": 1,  # 410: the subscription ends
        }
        assert await service.partners.hub.count_active() == 1

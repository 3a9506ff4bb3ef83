"""The service in one process: schedules, catch-up, the served site and feeds, reload, health.

Each test runs `open_service` (or the aiohttp app `serve` runs) on a copy of the example
workspace with a SQLite file, or on a fresh PostgreSQL database, and checks what a reader,
a newsroom or an operator would see: pages, feeds, `status`, `/healthz`, `/metrics`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import feedparser  # type: ignore[import-untyped]
import lxml.html
import pytest
import pytest_asyncio
import yaml
from aiohttp import web
from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pytest_aiohttp import AiohttpClient
from sqlalchemy import make_url, select, text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import NullPool

from broadcaster.cli.operations import publish_now, status_report
from broadcaster.outbox.outbox import Outbox
from broadcaster.outbox.tables import (
    PublicationSource,
    deliveries,
    delivery_attempts,
    schedule_firings,
)
from broadcaster.service import SERVICE, Service, make_app, open_service
from broadcaster.settings import Settings
from broadcaster.store import create_engine, upgrade_engine
from broadcaster.store.testing import TEST_DATABASE_ENV, postgres_fresh_database, postgres_url

HCM = ZoneInfo("Asia/Ho_Chi_Minh")  # the example workspace's time zone
BASE_URL = "http://broadcaster.test"
CURRENT = ("online-submission", "support-contacts", "commune-support-points")
EXPIRED = "one-stop-covid-measures"  # expired 2021-12-31 in the example workspace
DESK = 2  # press-desk recipients in channels/press-desk.yaml

Client = TestClient[web.Request, web.Application]


# --- the workspace, settings and databases ------------------------------------------------


def settings_for(root: Path, database_url: str | None = None, **env: str) -> Settings:
    """Settings as `serve` would build them from this environment (nothing from os.environ)."""
    environ = {
        "BROADCASTER_DATABASE_URL": database_url or f"sqlite+aiosqlite:///{root / 'var/db.sqlite'}",
        "BROADCASTER_BASE_URL": BASE_URL,
        "BROADCASTER_SHUTDOWN_TIMEOUT": "5",
        **env,
    }
    return Settings.from_environ(root, environ=environ)


def local_naive(moment: datetime) -> str:
    """`moment` as schedules.yaml writes it: local wall time in the workspace zone, no offset."""
    return moment.astimezone(HCM).replace(tzinfo=None).isoformat(timespec="seconds")


def write_schedules(root: Path, *entries: dict[str, str]) -> None:
    """Replace schedules.yaml; values are written unquoted, as a person would type them."""
    lines = ["timezone: Asia/Ho_Chi_Minh", "schedules:"]
    for entry in entries:
        first = True
        for key, value in entry.items():
            lines.append(f"  {'- ' if first else '  '}{key}: {value}")
            first = False
    (root / "schedules.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def front_matter(root: Path, campaign: str, locale: str) -> dict[str, Any]:
    """The YAML front matter of campaigns/<campaign>/<locale>.md."""
    source = (root / "campaigns" / campaign / f"{locale}.md").read_text(encoding="utf-8")
    meta = yaml.safe_load(source.split("---", 2)[1])
    assert isinstance(meta, dict)
    return meta


def title(root: Path, campaign: str, locale: str) -> str:
    value = front_matter(root, campaign, locale)["title"]
    assert isinstance(value, str)
    return value


def set_title(root: Path, campaign: str, locale: str, new_title: str) -> None:
    path = root / "campaigns" / campaign / f"{locale}.md"
    old = title(root, campaign, locale)
    path.write_text(
        path.read_text(encoding="utf-8").replace(f"title: {old}\n", f"title: {new_title}\n", 1),
        encoding="utf-8",
    )


def set_expires(root: Path, campaign: str, expires: datetime) -> None:
    path = root / "campaigns" / campaign / "campaign.yaml"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    assert not any(line.startswith("expires:") for line in lines)
    at = next(i for i, line in enumerate(lines) if line.startswith("valid_from:"))
    lines.insert(at + 1, f"expires: {expires.isoformat()}\n")
    path.write_text("".join(lines), encoding="utf-8")


def require_postgres() -> str:
    url = postgres_url()
    if url is None:
        pytest.skip(f"{TEST_DATABASE_ENV} is not set, e.g. postgresql+asyncpg://postgres@/test")
    return url


@pytest_asyncio.fixture
async def pg_url() -> AsyncIterator[str]:
    """The URL of a fresh PostgreSQL database, dropped afterwards."""
    async with postgres_fresh_database(require_postgres()) as url:
        yield url


@pytest_asyncio.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest, workspace: Path) -> AsyncIterator[str]:
    """A SQLite file in the workspace, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{workspace / 'var/db.sqlite'}"
        return
    async with postgres_fresh_database(require_postgres()) as url:
        yield url


@contextlib.asynccontextmanager
async def engine_on(url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        yield engine
    finally:
        await engine.dispose()


async def firings(engine: AsyncEngine) -> dict[str, list[tuple[datetime, str]]]:
    """schedule id -> [(fire time, outcome)], oldest first."""
    f = schedule_firings.c
    query = select(f.schedule_id, f.fire_time, f.outcome).order_by(f.schedule_id, f.fire_time)
    result: dict[str, list[tuple[datetime, str]]] = {}
    async with engine.connect() as conn:
        for schedule_id, fire_time, outcome in await conn.execute(query):
            result.setdefault(schedule_id, []).append((fire_time, outcome))
    return result


async def attempt_outcomes(engine: AsyncEngine) -> dict[tuple[str, str], list[str | None]]:
    """(channel, recipient) -> the outcome of each attempt at that delivery, in order."""
    d, a = deliveries.c, delivery_attempts.c
    query = (
        select(d.channel, d.recipient, a.outcome)
        .join_from(deliveries, delivery_attempts, a.delivery_id == d.id)
        .order_by(d.id, a.attempt)
    )
    result: dict[tuple[str, str], list[str | None]] = {}
    async with engine.connect() as conn:
        for channel, recipient, outcome in await conn.execute(query):
            result.setdefault((channel, recipient), []).append(outcome)
    return result


def maildir_messages(root: Path) -> list[bytes]:
    return [path.read_bytes() for path in sorted((root / "var/mail/new").glob("*"))]


async def eventually(
    check: Callable[[], Awaitable[bool]], within: float, what: str, interval: float = 0.05
) -> None:
    """Wait until `check()` is true; fail saying `what` did not happen `within` seconds."""
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {within} s")
        await asyncio.sleep(interval)


async def all_settled(outbox: Outbox, publication_id: int) -> bool:
    progress = await outbox.progress(publication_id)
    return bool(progress) and all(set(counts) == {"delivered"} for counts in progress.values())


# --- what a reader gets from the served site ----------------------------------------------


async def get_text(client: Client, path: str, status: int = 200) -> str:
    response = await client.get(path)
    body = await response.text()
    assert response.status == status, f"GET {path}: {response.status}\n{body[:500]}"
    return body


def listed_titles(page: str) -> list[str]:
    """The guidance titles a reader sees listed on a home or archive page."""
    links = lxml.html.fromstring(page).xpath("//main//li[@class='item']/*[1]/a")
    assert isinstance(links, list)
    return [a.text_content().strip() for a in links if isinstance(a, lxml.html.HtmlElement)]


def feed_titles(body: str) -> list[str]:
    parsed = feedparser.parse(body)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    return [entry.title for entry in parsed.entries]


def service_of(client: Client) -> Service:
    app = client.app
    assert app is not None
    return app[SERVICE]


@pytest_asyncio.fixture
async def published(workspace: Path) -> Settings:
    """The example workspace after `broadcaster publish --all --wait`, on SQLite."""
    settings = settings_for(workspace)
    reports = await publish_now(settings, [*CURRENT, EXPIRED], None, wait=True)
    for report in reports:
        assert report.published.created
        assert report.progress == {
            "feeds": {"delivered": 1},
            "press-desk": {"delivered": DESK},
            "website": {"delivered": 1},
        }
    return settings


# --- several schedulers on one PostgreSQL database ----------------------------------------


@pytest.mark.postgres
async def test_two_services_on_one_postgres_database_publish_a_firing_once(
    workspace: Path, pg_url: str
) -> None:
    def launch_at(moment: datetime) -> None:
        write_schedules(
            workspace,
            {
                "id": "launch-now",
                "campaign": "online-submission",
                "channels": "[website, feeds, press-desk]",
                "at": local_naive(moment),
            },
        )

    launch_at(datetime.now(UTC) + timedelta(days=1))
    settings = settings_for(workspace, pg_url)
    async with open_service(settings) as first, open_service(settings) as second:
        # Once both run, the launch is brought forward to a few seconds from now (the
        # SIGHUP path), so that however long starting took, both fire it at the same moment.
        # Only the first reloads; the second follows on its word (PostgreSQL NOTIFY).
        fire_at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=8)
        launch_at(fire_at)
        assert await first.reload()

        async def both_scheduled() -> bool:
            return all(
                service.scheduler is not None
                and service.scheduler.next_fire_times() == {"launch-now": fire_at}
                for service in (first, second)
            )

        await eventually(both_scheduled, 6, "the second service following the reload")
        assert datetime.now(UTC) < fire_at, "reloading took too long"

        async def published_and_delivered() -> bool:
            found = await first.outbox.publications()
            return len(found) == 1 and await all_settled(first.outbox, found[0].id)

        await eventually(published_and_delivered, 10, "the launch publication")
        await asyncio.sleep(0.5)  # a late duplicate would have appeared by now
        (publication,) = await second.outbox.publications()
        assert (publication.schedule_id, publication.fire_time) == ("launch-now", fire_at)
        assert await first.outbox.progress(publication.id) == {
            "website": {"delivered": 1},
            "feeds": {"delivered": 1},
            "press-desk": {"delivered": DESK},
        }
        assert await firings(first.engine) == {"launch-now": [(fire_at, "published")]}
        outcomes = await attempt_outcomes(first.engine)
    assert len(outcomes) == 2 + DESK
    assert all(attempts == ["delivered"] for attempts in outcomes.values()), outcomes
    # Each newsroom desk got the press release once.
    recipients = [str(message_from_bytes(m)["To"]) for m in maildir_messages(workspace)]
    assert len(recipients) == DESK
    assert len(set(recipients)) == DESK


@pytest.mark.postgres
async def test_services_restarting_together_catch_up_a_missed_firing_once(
    workspace: Path, pg_url: str
) -> None:
    missed_at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
    write_schedules(
        workspace,
        {
            "id": "launch",
            "campaign": "support-contacts",
            "channels": "[website, feeds]",
            "at": local_naive(missed_at),
        },
    )
    settings = settings_for(workspace, pg_url)
    async with contextlib.AsyncExitStack() as stack:
        services: list[Service] = list(
            await asyncio.gather(
                *(stack.enter_async_context(open_service(settings)) for _ in range(3))
            )
        )
        # Every process also fires the same moment again, all at once: still one.
        schedule = services[0].workspace.schedules[0]
        await asyncio.gather(
            *(s.publisher.fire(schedule, missed_at) for s in services for _ in range(4))
        )
        (publication,) = await services[0].outbox.publications()
        assert (publication.schedule_id, publication.fire_time) == ("launch", missed_at)
        await eventually(
            lambda: all_settled(services[1].outbox, publication.id), 10, "the deliveries"
        )
        assert await firings(services[2].engine) == {"launch": [(missed_at, "published")]}
        outcomes = await attempt_outcomes(services[0].engine)
    assert outcomes == {("website", ""): ["delivered"], ("feeds", ""): ["delivered"]}


# --- catch-up after downtime ----------------------------------------------------------------


async def test_catch_up_after_downtime_runs_the_latest_missed_firing_once(
    workspace: Path, database_url: str
) -> None:
    now = datetime.now(HCM)
    hour = now.replace(minute=0, second=0, microsecond=0)  # the latest hourly firing
    write_schedules(
        workspace,
        {
            "id": "hourly-reminder",
            "campaign": "online-submission",
            "channels": "[website]",
            "cron": '"0 * * * *"',
            # no firing after `hour` during this test, whenever it runs
            "until": local_naive(hour + timedelta(minutes=59)),
        },
        {
            "id": "recent-launch",
            "campaign": "support-contacts",
            "channels": "[website, feeds]",
            "at": local_naive(now - timedelta(minutes=40)),
        },
        {
            "id": "old-launch",
            "campaign": "commune-support-points",
            "channels": "[website, feeds]",
            "at": local_naive(now - timedelta(hours=3)),
        },
    )
    settings = settings_for(workspace, database_url, BROADCASTER_CATCH_UP_HOURS="1.5")
    # History: the service last fired the reminder three hours before the latest firing,
    # then was down until now.
    last_run = hour - timedelta(hours=3)
    async with engine_on(database_url) as engine:
        await upgrade_engine(engine)
        await Outbox(engine).create_publication(
            "online-submission",
            "an-older-revision",
            ["website"],
            source=PublicationSource.SCHEDULE,
            schedule_id="hourly-reminder",
            fire_time=last_run,
        )

        async with open_service(settings) as service:

            async def caught_up() -> bool:
                new = [p for p in await service.outbox.publications() if p.fire_time != last_run]
                return len(new) == 2 and all([await all_settled(service.outbox, p.id) for p in new])

            await eventually(caught_up, 10, "the caught-up deliveries")
        expected = {
            "hourly-reminder": [
                (last_run, "published"),
                (hour - timedelta(hours=2), "missed"),
                (hour - timedelta(hours=1), "missed"),
                (hour, "published"),
            ],
            "recent-launch": [(now.replace(microsecond=0) - timedelta(minutes=40), "published")],
            "old-launch": [(now.replace(microsecond=0) - timedelta(hours=3), "missed")],
        }
        assert await firings(engine) == expected

        # What `broadcaster status` shows: the history and the two caught-up firings.
        report = await status_report(settings, limit=10)
        assert [(item["schedule"], item["fire_time"]) for item in report] == [
            ("recent-launch", expected["recent-launch"][0][0].astimezone(UTC).isoformat()),
            ("hourly-reminder", hour.astimezone(UTC).isoformat()),
            ("hourly-reminder", last_run.astimezone(UTC).isoformat()),
        ]
        assert report[0]["channels"] == {"website": {"delivered": 1}, "feeds": {"delivered": 1}}
        assert report[1]["channels"] == {"website": {"delivered": 1}}

        # Restarted again: everything was caught up already, nothing runs twice.
        async with open_service(settings) as service:
            assert len(await service.outbox.publications()) == 3
        assert await firings(engine) == expected


# --- the site that `publish --wait` builds and `serve` serves ------------------------------


async def test_publish_wait_builds_the_site_the_service_serves(
    published: Settings, aiohttp_client: AiohttpClient
) -> None:
    root = published.root
    client = await aiohttp_client(make_app(published))
    for path, locale in (("/", "vi"), ("/vi/", "vi"), ("/en/", "en")):
        home = await get_text(client, path)
        assert f'<html lang="{locale}">' in home
        listed = listed_titles(home)
        assert sorted(listed) == sorted(title(root, c, locale) for c in CURRENT)
        # urgent first
        assert listed[0] == title(root, "online-submission", locale)
        archive = listed_titles(await get_text(client, f"/{locale}/archive/"))
        assert archive == [title(root, EXPIRED, locale)]
    page = await get_text(client, "/en/online-submission/")
    assert title(root, "online-submission", "en") in page
    feed = await get_text(client, "/feeds/en/all.atom")
    assert sorted(feed_titles(feed)) == sorted(title(root, c, "en") for c in CURRENT)


async def test_an_expired_campaign_leaves_the_home_page_and_feeds_at_its_expiry(
    workspace: Path, aiohttp_client: AiohttpClient
) -> None:
    expires = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=5)
    set_expires(workspace, "support-contacts", expires)
    settings = settings_for(workspace)
    await publish_now(
        settings, ["support-contacts", "online-submission"], ["website", "feeds"], wait=True
    )
    client = await aiohttp_client(make_app(settings))
    leaving = title(workspace, "support-contacts", "vi")
    staying = title(workspace, "online-submission", "vi")

    assert listed_titles(await get_text(client, "/vi/")) == [staying, leaving]
    assert sorted(feed_titles(await get_text(client, "/feeds/vi/all.atom"))) == sorted(
        [leaving, staying]
    )
    assert datetime.now(UTC) < expires, "setting up took longer than the campaign lasts"

    async def gone() -> bool:
        return leaving not in listed_titles(await get_text(client, "/vi/"))

    await eventually(gone, (expires - datetime.now(UTC)).total_seconds() + 2, "expiry")
    left_at = datetime.now(UTC)
    assert expires <= left_at < expires + timedelta(seconds=1.5)
    # Nobody acted: the service rebuilt the site and feeds at the expiry time.
    assert listed_titles(await get_text(client, "/")) == [staying]
    assert listed_titles(await get_text(client, "/vi/archive/")) == [leaving]
    assert feed_titles(await get_text(client, "/feeds/vi/all.atom")) == [staying]
    assert feed_titles(await get_text(client, "/feeds/vi/support-contacts.atom")) == []
    assert feed_titles(await get_text(client, "/feeds/vi/all.rss")) == [staying]


# --- reload (SIGHUP) ------------------------------------------------------------------------


async def test_reload_picks_up_an_edited_campaign_and_a_new_schedule(
    workspace: Path, aiohttp_client: AiohttpClient
) -> None:
    settings = settings_for(workspace)
    await publish_now(settings, ["online-submission"], ["website", "feeds"], wait=True)
    client = await aiohttp_client(make_app(settings))
    service = service_of(client)
    before = title(workspace, "online-submission", "en")
    assert listed_titles(await get_text(client, "/en/")) == [before]
    revision = service.workspace.campaigns["online-submission"].revision

    # A campaign officer corrects the title and schedules the update, then sends SIGHUP.
    after = "Apply and pay online (updated guidance)"
    set_title(workspace, "online-submission", "en", after)
    fire_at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=3)
    write_schedules(
        workspace,
        {
            "id": "online-submission-update",
            "campaign": "online-submission",
            "channels": "[website, feeds]",
            "at": local_naive(fire_at),
        },
    )
    assert await service.reload() is True
    assert service.workspace.campaigns["online-submission"].revision != revision
    assert service.scheduler is not None
    assert service.scheduler.next_fire_times() == {"online-submission-update": fire_at}

    async def updated() -> bool:
        return listed_titles(await get_text(client, "/en/")) == [after]

    async def feed_updated() -> bool:
        return feed_titles(await get_text(client, "/feeds/en/all.atom")) == [after]

    await eventually(updated, 6, "the updated title on the home page")
    assert datetime.now(UTC) >= fire_at
    await eventually(feed_updated, 1, "the updated entry in the feed")
    # The Vietnamese page was not edited and keeps its text.
    assert listed_titles(await get_text(client, "/vi/")) == [
        title(workspace, "online-submission", "vi")
    ]


async def test_an_invalid_edit_outside_campaigns_keeps_the_last_good_workspace_serving(
    workspace: Path, aiohttp_client: AiohttpClient, caplog: pytest.LogCaptureFixture
) -> None:
    settings = settings_for(workspace)
    await publish_now(settings, ["online-submission"], ["website", "feeds"], wait=True)
    client = await aiohttp_client(make_app(settings))
    service = service_of(client)
    good = service.workspace
    before = title(workspace, "online-submission", "en")
    # A channel file breaks: not one campaign's problem, so the whole reload is refused
    # (an error in one campaign's own files only quarantines it: tests/web/admin/).
    channel_file = workspace / "channels/feeds.yaml"
    channel_file.write_text(
        channel_file.read_text(encoding="utf-8").replace("title:", "titel:", 1),
        encoding="utf-8",
    )
    set_title(workspace, "online-submission", "en", "This edit must not go out")

    with caplog.at_level(logging.ERROR, logger="broadcaster.service"):
        assert await service.reload() is False
    assert service.workspace is good
    assert service.publisher.workspace is good
    # The `check` error, as path:line: message, is in the log.
    assert any(
        "channels/feeds.yaml:" in r.getMessage() and "titel" in r.getMessage()
        for r in caplog.records
    ), [r.getMessage() for r in caplog.records]

    assert listed_titles(await get_text(client, "/en/")) == [before]
    health = await client.get("/healthz")
    assert health.status == 200
    assert (await health.json())["campaigns"] == len(good.campaigns)
    # Publishing still works, from the last good revision.
    published = await service.publisher.publish(
        "online-submission", ["feeds"], source=PublicationSource.ADMIN
    )
    assert published.created
    (newest, *_) = await service.outbox.publications()
    assert newest.revision == good.campaigns["online-submission"].revision


# --- health and metrics ---------------------------------------------------------------------


async def test_healthz_and_metrics_after_publishing(
    published: Settings, aiohttp_client: AiohttpClient
) -> None:
    client = await aiohttp_client(make_app(published))
    health = await client.get("/healthz")
    assert health.status == 200
    assert health.content_type == "application/json"
    assert await health.json() == {"status": "ok", "store": "ok", "campaigns": 4}

    response = await client.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    body = await response.text()
    assert 'broadcaster_deliveries{channel="website",status="delivered"} 4.0' in body
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
    }
    for channel, count in (("website", 4), ("feeds", 4), ("press-desk", 4 * DESK)):
        key = ("broadcaster_deliveries", (("channel", channel), ("status", "delivered")))
        assert samples[key] == count


async def test_metrics_scraped_by_many_count_the_outbox_once(
    published: Settings, aiohttp_client: AiohttpClient
) -> None:
    """/metrics is open to anyone and its count reads the whole outbox: twenty scrapes at
    once (or in a row) make one count, and every one of them shows it."""
    from sqlalchemy import event

    app = make_app(published)
    client = await aiohttp_client(app)
    counted: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "GROUP BY deliveries.channel, deliveries.status" in statement:
            counted.append(statement)

    event.listen(app[SERVICE].engine.sync_engine, "before_cursor_execute", before)
    responses = await asyncio.gather(*(client.get("/metrics") for _ in range(20)))
    bodies = {await response.text() for response in responses}
    assert [response.status for response in responses] == [200] * 20
    assert len(counted) == 1
    assert all('{channel="website",status="delivered"} 4.0' in body for body in bodies)
    await client.get("/metrics")
    assert len(counted) == 1


@pytest.mark.postgres
async def test_healthz_is_503_while_the_store_does_not_answer(
    workspace: Path, pg_url: str, aiohttp_client: AiohttpClient
) -> None:
    client = await aiohttp_client(make_app(settings_for(workspace, pg_url)))
    response = await client.get("/healthz")
    assert response.status == 200
    assert (await response.json())["store"] == "ok"

    name = make_url(pg_url).database
    server = require_postgres()
    admin = create_engine(server, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            # The database refuses new connections and drops the open ones: an outage.
            await conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
            await conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                {"n": name},
            )
        try:
            for _ in range(2):  # the dropped pooled connection, then a refused new one
                response = await client.get("/healthz")
                assert response.status == 503
                assert response.content_type == "application/json"
                body = await response.json()
                assert body["status"] == "unavailable"
                assert body["store"] == "not answering"
            # The site is still served from memory meanwhile.
            assert (await client.get("/")).status in (200, 404)
        finally:
            async with admin.connect() as conn:
                await conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
    finally:
        await admin.dispose()

    async def healthy_again() -> bool:
        return (await client.get("/healthz")).status == 200

    await eventually(healthy_again, 5, "recovery after the outage")

"""Real `broadcaster serve` processes: several on one PostgreSQL database, killed, stopped.

Each test starts the venv's `broadcaster` console script on free ports against a copy of the
example workspace, and looks at the outcome the way an operator would: `broadcaster status
--json`, the delivery log in the store, the mail in the Maildir, and the served site.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import lxml.html
import pytest
import pytest_asyncio
import yaml
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import NullPool

from broadcaster.outbox.tables import deliveries
from broadcaster.store import create_engine, upgrade_engine
from broadcaster.store.testing import TEST_DATABASE_ENV, postgres_fresh_database, postgres_url
from tests.test_service import attempt_outcomes

BROADCASTER = Path(sys.executable).with_name("broadcaster")  # the venv's console script
HCM = ZoneInfo("Asia/Ho_Chi_Minh")
SHUTDOWN_TIMEOUT = 5.0

pytestmark = pytest.mark.skipif(
    not BROADCASTER.exists(), reason=f"{BROADCASTER} missing: pip install -e . in the venv"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def local_naive(moment: datetime) -> str:
    """`moment` as schedules.yaml writes it: local wall time in the workspace zone."""
    return moment.astimezone(HCM).replace(tzinfo=None).isoformat(timespec="seconds")


def schedule_launch(root: Path, campaign: str, channels: str, at: datetime) -> None:
    (root / "schedules.yaml").write_text(
        "timezone: Asia/Ho_Chi_Minh\n"
        "schedules:\n"
        "  - id: launch-now\n"
        f"    campaign: {campaign}\n"
        f"    channels: {channels}\n"
        f"    at: {local_naive(at)}\n",
        encoding="utf-8",
    )


def campaign_title(root: Path, campaign: str, locale: str) -> str:
    source = (root / "campaigns" / campaign / f"{locale}.md").read_text(encoding="utf-8")
    value = yaml.safe_load(source.split("---", 2)[1])["title"]
    assert isinstance(value, str)
    return value


def environment(**settings: str) -> dict[str, str]:
    """This process's environment without any BROADCASTER_ setting, plus `settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BROADCASTER_")}
    env.update({f"BROADCASTER_{name.upper()}": value for name, value in settings.items()})
    return env


class Serve:
    """One `broadcaster serve` child process, its port and its log."""

    def __init__(self, root: Path, env: Mapping[str, str], log: Path) -> None:
        self.root = root
        self.port = free_port()
        self.env = {**env, "BROADCASTER_LISTEN": f"127.0.0.1:{self.port}"}
        self.log = log
        self.process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                str(BROADCASTER),
                "serve",
                "--root",
                str(self.root),
                env=self.env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    async def wait_healthy(self, session: aiohttp.ClientSession, within: float = 15) -> None:
        deadline = time.monotonic() + within
        while True:
            assert self.process is not None
            if self.process.returncode is not None:
                pytest.fail(f"serve exited with {self.process.returncode}:\n{self.output()}")
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(f"{self.url}/healthz") as response:
                    if response.status == 200:
                        return
            if time.monotonic() > deadline:
                pytest.fail(f"serve did not become healthy in {within} s:\n{self.output()}")
            await asyncio.sleep(0.05)

    async def stop(self, sig: int = signal.SIGTERM, grace: float = SHUTDOWN_TIMEOUT + 5) -> int:
        """Send `sig` and wait (at most `grace` seconds) for the exit status."""
        assert self.process is not None
        self.process.send_signal(sig)
        try:
            async with asyncio.timeout(grace):
                return await self.process.wait()
        except TimeoutError:
            pytest.fail(f"serve did not exit {grace} s after signal {sig}:\n{self.output()}")

    async def kill(self) -> None:
        """SIGKILL, if still running (always safe to call)."""
        if self.process is not None and self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            await self.process.wait()


@contextlib.asynccontextmanager
async def serving(*processes: Serve) -> AsyncIterator[aiohttp.ClientSession]:
    """Start `processes`; whatever happens, none outlives the test."""
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
            await asyncio.gather(*(p.start() for p in processes))
            yield session
    finally:
        for process in processes:
            await process.kill()


async def run_cli(env: Mapping[str, str], *args: str) -> str:
    """Run `broadcaster ARGS` to completion; its stdout (fails on a non-zero exit)."""
    process = await asyncio.create_subprocess_exec(
        str(BROADCASTER),
        *args,
        env=dict(env),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(30):
            out, err = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, f"broadcaster {' '.join(args)}: {err.decode()}"
    return out.decode()


async def status_json(env: Mapping[str, str], root: Path) -> list[dict[str, Any]]:
    report = json.loads(await run_cli(env, "status", "--json", "--root", str(root)))
    assert isinstance(report, list)
    return report


async def eventually(
    check: Callable[[], Awaitable[bool]], within: float, what: str, interval: float = 0.05
) -> None:
    """Wait until `check()` is true; fail saying `what` did not happen `within` seconds."""
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {within} s")
        await asyncio.sleep(interval)


async def delivery_counts(engine: AsyncEngine) -> dict[str, int]:
    """status -> number of deliveries."""
    d = deliveries.c
    async with engine.connect() as conn:
        rows = await conn.execute(select(d.status, func.count()).group_by(d.status))
        return {status: int(count) for status, count in rows}


def mailbox(root: Path) -> list[tuple[str, str]]:
    """(To, Message-ID) of every message in the workspace's Maildir."""
    messages = [message_from_bytes(p.read_bytes()) for p in (root / "var/mail/new").glob("*")]
    return [(str(m["To"]), str(m["Message-ID"])) for m in messages]


async def served_titles(session: aiohttp.ClientSession, url: str) -> list[str]:
    async with session.get(url) as response:
        assert response.status == 200, url
        page = await response.text()
    links = lxml.html.fromstring(page).xpath("//main//li[@class='item']/*[1]/a")
    assert isinstance(links, list)
    return [a.text_content().strip() for a in links if isinstance(a, lxml.html.HtmlElement)]


@pytest_asyncio.fixture
async def pg_url() -> AsyncIterator[str]:
    """A fresh PostgreSQL database for the processes of one test."""
    server = postgres_url()
    if server is None:
        pytest.skip(f"{TEST_DATABASE_ENV} is not set, e.g. postgresql+asyncpg://postgres@/test")
    async with postgres_fresh_database(server) as url:
        yield url


@pytest_asyncio.fixture
async def pg_engine(pg_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(pg_url, poolclass=NullPool)
    yield engine
    await engine.dispose()


@pytest.mark.postgres
async def test_two_serve_processes_publish_a_firing_once(
    workspace: Path, pg_url: str, pg_engine: AsyncEngine, tmp_path: Path
) -> None:
    channels = "[website, feeds, press-desk]"
    schedule_launch(workspace, "online-submission", channels, datetime.now(UTC) + timedelta(days=1))
    env = environment(
        database_url=pg_url,
        base_url="http://broadcaster.test",
        shutdown_timeout=str(SHUTDOWN_TIMEOUT),
    )
    first = Serve(workspace, env, tmp_path / "first.log")
    second = Serve(workspace, env, tmp_path / "second.log")
    async with serving(first, second) as session:
        await asyncio.gather(first.wait_healthy(session), second.wait_healthy(session))
        # Both run: bring the launch forward to a few seconds from now and reload both
        # (SIGHUP), so that however long starting took, both fire it at the same moment.
        fire_at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=4)
        schedule_launch(workspace, "online-submission", channels, fire_at)
        for process in (first, second):
            os.kill(process.pid, signal.SIGHUP)

        async def both_scheduled() -> bool:
            for process in (first, second):
                async with session.get(f"{process.url}/metrics") as response:
                    metrics = await response.text()
                next_fire = {
                    sample.labels["schedule"]: sample.value
                    for family in text_string_to_metric_families(metrics)
                    for sample in family.samples
                    if sample.name == "broadcaster_schedule_next_fire_timestamp_seconds"
                }
                if next_fire != {"launch-now": fire_at.timestamp()}:
                    return False
            return True

        await eventually(both_scheduled, 3, "the reload of both processes")
        assert datetime.now(UTC) < fire_at, "the processes took too long to reload"

        async def done() -> bool:
            return await delivery_counts(pg_engine) == {"delivered": 4}

        await eventually(done, 15, "every delivery")
        await asyncio.sleep(0.5)  # a second publication would have appeared by now

        # Both processes serve the new site: one built it, the other follows its builds.
        title = campaign_title(workspace, "online-submission", "en")
        for process in (first, second):

            async def shows_it(process: Serve = process) -> bool:
                return await served_titles(session, f"{process.url}/en/") == [title]

            await eventually(shows_it, 2, f"the site on port {process.port}")
        # What `broadcaster status` shows, while both stop cleanly.
        first_code, second_code, report = await asyncio.gather(
            first.stop(), second.stop(), status_json(env, workspace)
        )
    assert (first_code, second_code) == (0, 0), first.output() + second.output()

    (publication,) = report
    assert publication["schedule"] == "launch-now"
    assert publication["fire_time"] == fire_at.isoformat()
    assert publication["channels"] == {
        "website": {"delivered": 1},
        "feeds": {"delivered": 1},
        "press-desk": {"delivered": 2},
    }
    outcomes = await attempt_outcomes(pg_engine)
    assert len(outcomes) == 4
    assert all(attempts == ["delivered"] for attempts in outcomes.values()), outcomes
    mail = mailbox(workspace)
    assert len(mail) == 2
    assert len({to for to, _ in mail}) == 2


def many_desk_recipients(root: Path, count: int) -> list[str]:
    """Make the press desk list long, so a publication takes a while to deliver."""
    addresses = [f"Desk {n} <desk{n}@newsroom.example.vn>" for n in range(count)]
    path = root / "channels/press-desk.yaml"
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    config["recipients"] = addresses
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return addresses


@pytest.mark.postgres
async def test_serve_killed_mid_publication_completes_every_delivery_once_after_restart(
    workspace: Path, pg_url: str, pg_engine: AsyncEngine, tmp_path: Path
) -> None:
    desks = many_desk_recipients(workspace, 150)
    # Missed a minute ago: the process publishes it as soon as it starts (catch-up).
    fire_at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    schedule_launch(workspace, "support-contacts", "[website, feeds, press-desk]", fire_at)
    env = environment(
        database_url=pg_url,
        base_url="http://broadcaster.test",
        lease_seconds="3",
        shutdown_timeout=str(SHUTDOWN_TIMEOUT),
    )
    total = len(desks) + 2
    await upgrade_engine(pg_engine)  # `broadcaster db upgrade`, so the outbox can be watched
    crashed = Serve(workspace, env, tmp_path / "crashed.log")
    async with serving(crashed):

        async def mid_delivery() -> bool:
            # deliveries leased to the process's workers, being sent right now
            return (await delivery_counts(pg_engine)).get("sending", 0) > 0

        await eventually(mid_delivery, 15, "delivering", interval=0.005)
        os.kill(crashed.pid, signal.SIGKILL)
        await crashed.kill()  # reap it
        assert crashed.process is not None
        assert crashed.process.returncode == -signal.SIGKILL
    at_crash = await delivery_counts(pg_engine)
    assert at_crash.get("delivered", 0) < total, f"killed too late to test anything: {at_crash}"
    assert at_crash.get("sending", 0) > 0, f"no delivery was in flight at the kill: {at_crash}"

    restarted = Serve(workspace, env, tmp_path / "restarted.log")
    async with serving(restarted) as session:
        await restarted.wait_healthy(session)

        async def all_delivered() -> bool:
            return await delivery_counts(pg_engine) == {"delivered": total}

        await eventually(all_delivered, 15, "every delivery after the restart")
        title = campaign_title(workspace, "support-contacts", "vi")
        assert title in await served_titles(session, f"{restarted.url}/vi/")
        # What `broadcaster status` shows, while the service stops cleanly.
        code, report = await asyncio.gather(restarted.stop(), status_json(env, workspace))
        assert code == 0, restarted.output()

    # One publication, every delivery delivered exactly once per channel and recipient.
    (publication,) = report
    assert publication["fire_time"] == fire_at.isoformat()
    assert publication["status"] == "delivered"
    assert publication["channels"] == {
        "website": {"delivered": 1},
        "feeds": {"delivered": 1},
        "press-desk": {"delivered": len(desks)},
    }
    outcomes = await attempt_outcomes(pg_engine)
    assert len(outcomes) == total
    for key, attempts in outcomes.items():
        # The dead process's claims ran out; each was then taken over and delivered once.
        assert attempts.count("delivered") == 1, (key, attempts)
        assert set(attempts) <= {"delivered", "lease-expired"}, (key, attempts)
        assert attempts[-1] == "delivered", (key, attempts)
    taken_over = {key for key, attempts in outcomes.items() if "lease-expired" in attempts}
    assert taken_over, "the kill left no lease to expire"

    # Every desk got the press release under one Message-ID; a second copy (same
    # Message-ID, for mail clients to drop) can only come from a delivery taken over.
    mail = mailbox(workspace)
    ids_by_desk: dict[str, set[str]] = {}
    for to, message_id in mail:
        ids_by_desk.setdefault(to, set()).add(message_id)
    assert sorted(ids_by_desk) == sorted(desks)
    assert all(len(ids) == 1 for ids in ids_by_desk.values())
    copies = Counter(to for to, _ in mail)
    duplicated = {to for to, n in copies.items() if n > 1}
    assert duplicated <= {recipient for _, recipient in taken_over}


async def test_serve_shuts_down_cleanly_on_sigterm_within_the_timeout(
    workspace: Path, tmp_path: Path
) -> None:
    env = environment(shutdown_timeout=str(SHUTDOWN_TIMEOUT))  # embedded SQLite
    process = Serve(workspace, env, tmp_path / "serve.log")
    async with serving(process) as session:
        await process.wait_healthy(session)
        started = time.monotonic()
        code = await process.stop(signal.SIGTERM, grace=SHUTDOWN_TIMEOUT + 5)
        took = time.monotonic() - started
    output = process.output()
    assert code == 0, output
    assert took < SHUTDOWN_TIMEOUT, f"took {took:.1f} s\n{output}"
    assert "Traceback" not in output, output
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", process.port), 1):
        pass


async def test_sighup_reloads_the_workspace_an_invalid_edit_keeps_it_and_sigint_stops_it(
    workspace: Path, tmp_path: Path
) -> None:
    env = environment(shutdown_timeout=str(SHUTDOWN_TIMEOUT))
    process = Serve(workspace, env, tmp_path / "serve.log")
    async with serving(process) as session:
        await process.wait_healthy(session)

        async def campaigns() -> int:
            async with session.get(f"{process.url}/healthz") as response:
                assert response.status == 200
                count = (await response.json())["campaigns"]
                assert isinstance(count, int)
                return count

        assert await campaigns() == 4
        # A new campaign, then SIGHUP: the running service has it.
        shutil.copytree(
            workspace / "campaigns/support-contacts", workspace / "campaigns/support-contacts-2"
        )
        os.kill(process.pid, signal.SIGHUP)

        async def reloaded() -> bool:
            return "workspace reloaded: 5 campaigns" in process.output()

        await eventually(reloaded, 5, "the reload")
        assert await campaigns() == 5
        # A broken edit, then SIGHUP: that campaign keeps its last good revision
        # (quarantined), errors logged.
        broken = workspace / "campaigns/support-contacts-2/campaign.yaml"
        broken.write_text("topics: [no-such-topic]\n", encoding="utf-8")
        os.kill(process.pid, signal.SIGHUP)

        async def quarantined() -> bool:
            return "workspace reloaded: 5 campaigns, 1 quarantined" in process.output()

        await eventually(quarantined, 5, "the reload with the campaign quarantined")
        assert "campaign support-contacts-2 quarantined" in process.output()
        assert "campaigns/support-contacts-2/campaign.yaml:" in process.output()
        assert await campaigns() == 5
        # A broken channel file, then SIGHUP: the whole reload is refused, errors logged.
        channel = workspace / "channels/feeds.yaml"
        good_channel = channel.read_text(encoding="utf-8")
        channel.write_text("type: no-such-type\n", encoding="utf-8")
        os.kill(process.pid, signal.SIGHUP)

        async def refused() -> bool:
            return "the last good workspace keeps running" in process.output()

        await eventually(refused, 5, "the refused reload")
        assert "channels/feeds.yaml:" in process.output()
        assert await campaigns() == 5
        channel.write_text(good_channel, encoding="utf-8")
        # Fixed again, SIGHUP, and at once Ctrl-C: the reload finishes, then the service
        # stops as cleanly as on SIGTERM.
        shutil.rmtree(workspace / "campaigns/support-contacts-2")
        os.kill(process.pid, signal.SIGHUP)
        assert await process.stop(signal.SIGINT) == 0, process.output()
    assert "Traceback" not in process.output()
    assert "workspace reloaded: 4 campaigns" in process.output()

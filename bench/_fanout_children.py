"""What the children of bench/email_fanout.py run: seed the list, fan out (with drain
children on the same outbox), and the bare aiosmtplib baseline. Each imports the
service's modules itself, so the orchestrator stays light."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).with_name("email_fanout.py")  # the children's entry point
CAMPAIGN, TOPIC = "online-submission", "online-services"


# -- child: seed ------------------------------------------------------------------------


async def seed(root: Path, env: dict[str, str], count: int) -> None:
    """Insert `count` confirmed subscribers directly (90% vi, 10% en), in batches, and
    refresh the planner's statistics as `subscribers import` does (PostgreSQL)."""
    from broadcaster.settings import Settings
    from broadcaster.store import create_engine, upgrade_engine
    from broadcaster.store.engine import refresh_statistics, write_transaction
    from broadcaster.subscribers.addresses import AddressHasher
    from broadcaster.subscribers.tables import subscribers

    settings = Settings.from_environ(root, env)
    engine = create_engine(settings.database_url)
    await upgrade_engine(engine)
    hasher = AddressHasher(settings.secret_key)
    now = datetime.now(UTC)
    for start in range(0, count, 20_000):
        rows = []
        for n in range(start, min(count, start + 20_000)):
            address = f"citizen{n}@dan.example.vn"
            rows.append(
                {
                    "email": address,
                    "email_hash": hasher(address),
                    "locale": "en" if n % 10 == 0 else "vi",
                    "topics": [TOPIC],
                    "frequency": "immediate",
                    "status": "confirmed",
                    "created_at": now,
                    "confirmed_at": now,
                    "token_version": 0,
                    "bounce_score": 0,
                }
            )
        async with write_transaction(engine) as conn:
            await conn.execute(subscribers.insert(), rows)
    await refresh_statistics(engine, subscribers)
    await engine.dispose()


# -- child: fan-out ---------------------------------------------------------------------


async def _open(root: Path, env: dict[str, str]) -> tuple[Any, ...]:
    """The settings, workspace, engine, outbox, content store and channels of a fan-out."""
    from broadcaster.channels import build_channels
    from broadcaster.outbox.content import ContentStore
    from broadcaster.outbox.outbox import Outbox
    from broadcaster.settings import Settings
    from broadcaster.store import create_engine
    from broadcaster.subscribers.store import SqlSubscriberStore
    from broadcaster.subscribers.tokens import SignedTokens
    from broadcaster.workspace.load import load_workspace

    settings = Settings.from_environ(root, env)
    workspace, diagnostics = load_workspace(root, settings)
    assert workspace is not None, diagnostics.errors
    engine = create_engine(settings.database_url)
    outbox, content = Outbox(engine), ContentStore(engine)
    store = SqlSubscriberStore(engine, settings.secret_key)
    channels = build_channels(
        workspace, settings, subscribers=store, tokens=SignedTokens(settings.secret_key)
    )
    return settings, workspace, engine, outbox, content, channels


def _workers(outbox: Any, content: Any, channels: Any, last: list[float]) -> Any:
    from broadcaster.outbox.workers import Workers, WorkerSettings

    def observe(channel: str, status: str, seconds: float) -> None:
        if status == "delivered":  # called as each batch's outcomes are recorded
            last[0] = time.time()
            last[1] += 1

    return Workers(outbox, content, channels, WorkerSettings(concurrency=1), observe=observe)


async def _close(workers: Any, channels: Any, engine: Any) -> None:
    await workers.stop(5)
    for channel in channels.values():
        close = getattr(channel, "close", None)
        if close is not None:
            await close()
    await engine.dispose()


async def drain(root: Path, env: dict[str, str]) -> dict[str, float]:
    """Another delivery process on the same outbox (as `broadcaster worker`), until SIGTERM."""
    import signal

    _, _, engine, outbox, content, channels = await _open(root, env)
    last = [0.0, 0]
    workers = _workers(outbox, content, channels, last)
    workers.start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print("ready", flush=True)
    await stop.wait()
    await _close(workers, channels, engine)
    return {"last": last[0], "batches": last[1]}


def _drainers(root: Path, env: dict[str, str], count: int, loop: str) -> list[Any]:
    """Start `count` drain children and wait until each has its channels open."""
    command = [sys.executable, str(SCRIPT), "--child", "drain", "--root", str(root)]
    command += ["--env", json.dumps(env), "--loop", loop]
    children = [subprocess.Popen(command, stdout=subprocess.PIPE, text=True) for _ in range(count)]
    for process in children:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
    return children


def _stop_drainers(children: list[Any]) -> list[float]:
    """SIGTERM them; the wall-clock time each recorded its last delivered batch."""
    lasts = []
    for process in children:
        process.terminate()
        out, _ = process.communicate(timeout=60)
        lasts.append(json.loads(out.strip().splitlines()[-1])["last"])
    return lasts


async def fanout(
    root: Path, env: dict[str, str], limit: float, processes: int = 1, loop: str = "uvloop"
) -> dict[str, float]:
    """Publish to every subscriber and wait until each delivery is settled; with
    `processes` > 1, that many minus one drain children deliver from the same outbox."""
    from broadcaster.outbox.tables import DeliveryStatus, PublicationSource
    from broadcaster.publishing.publisher import Publisher

    settings, workspace, engine, outbox, content, channels = await _open(root, env)
    last = [0.0, 0]
    workers = _workers(outbox, content, channels, last)
    publisher = Publisher(outbox, content, settings, on_enqueued=workers.wake)
    publisher.use(workspace, channels)
    children = _drainers(root, env, processes - 1, loop)
    workers.start()
    started = time.time()
    published = await publisher.publish(CAMPAIGN, ["citizens"], source=PublicationSource.CLI)
    enqueued = time.time() - started
    final = {DeliveryStatus.DELIVERED, DeliveryStatus.PERMANENT_FAILURE, DeliveryStatus.CANCELLED}
    while True:
        progress = (await outbox.progress(published.publication_id)).get("citizens", {})
        if sum(n for status, n in progress.items() if status in final) >= published.deliveries:
            break
        if time.time() - started > limit:
            raise TimeoutError(f"not finished after {limit} s: {dict(progress)}")
        # A GROUP BY over the outbox: not too often, it competes with what is measured (the
        # time taken is that of the last recorded batch, not of this look).
        await asyncio.sleep(2)
    elapsed = max([last[0], *_stop_drainers(children)]) - started
    await _close(workers, channels, engine)
    delivered = progress.get(DeliveryStatus.DELIVERED, 0)
    return {
        "deliveries": published.deliveries,
        "delivered": delivered,
        "seconds": elapsed,
        "enqueue_seconds": enqueued,
        "rate": delivered / elapsed,
    }


# -- child: bare aiosmtplib baseline ------------------------------------------------------


async def baseline(
    root: Path, env: dict[str, str], count: int, connections: int
) -> dict[str, float]:
    """Pre-built bytes (one real personalised message) over `connections` aiosmtplib clients."""
    import aiosmtplib

    message = (root / "sample.eml").read_bytes()
    remaining = [count]

    async def client() -> None:
        smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=int(env["SMTP_PORT"]), start_tls=False)
        await smtp.connect()
        while remaining[0] > 0:
            remaining[0] -= 1
            await smtp.sendmail("bounces@example.gov.vn", ["citizen@dan.example.vn"], message)
        await smtp.quit()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(connections)))
    elapsed = time.perf_counter() - started
    return {"seconds": elapsed, "rate": count / elapsed}


def sample_message(root: Path, env: dict[str, str]) -> None:
    """One personalised list message of this workspace, for the baseline to send."""
    from broadcaster.channels import build_channels
    from broadcaster.mail.compose import MessageTemplate
    from broadcaster.settings import Settings
    from broadcaster.text.render import Publication
    from broadcaster.workspace.load import load_workspace

    settings = Settings.from_environ(root, env)
    workspace, _ = load_workspace(root, settings)
    assert workspace is not None
    channel = build_channels(workspace, settings)["citizens"]
    publication = Publication.prepare(
        workspace, workspace.campaigns[CAMPAIGN], settings.base_url, datetime.now(UTC)
    )
    template = MessageTemplate.parse(channel.render(publication, "vi").body)
    token = b"WzEsMF0.awc-Ew.wptYk3dGMM3YWYBOBxlfn8Gff-zE7IIdCZn5j5_PD9Q"
    values = (b"citizen@dan.example.vn", b"0123456789abcdef@example.gov.vn", token, token)
    (root / "sample.eml").write_bytes(template.fill(values))

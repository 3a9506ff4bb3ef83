"""WebSub fan-out: one change of the feeds distributed to 1,000 subscribed callbacks, each
distribution verified.

    .venv/bin/python bench/websub.py [--subscribers 1000] [--servers 4] [--repeats 3]
                                     [--postgres URL]

A throwaway copy of the example workspace gets a feed channel whose hub may reach
127.0.0.0/8. A separate process runs SERVERS aiohttp servers on 127.0.0.1 serving
SUBSCRIBERS callbacks between them. Each callback subscribes through the hub with its own
secret (the same `FeedHub.request` that `POST /websub` calls; the HTTP rate limits are
left out) to one of the six `all` feeds (vi/en × RSS/Atom/JSON), and confirms the intent
verification the hub sends it. Then every distribution it receives is verified: the
`X-Hub-Signature` is checked with `hmac` against its secret, and the body must parse as a
feed (feedparser, once per distinct body).

Each repeat publishes `online-submission` on the feed channel in this process (the same
Publisher, outbox, bulk workers and hub session `serve` uses) and measures from just
before `publish` to the arrival of the last verified distribution: the outbox insert of
the rebuild and SUBSCRIBERS distributions, the feeds rebuilt, the claims, signing,
sending and the settle. Target: every callback has the change, verified, within 2 s.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import Children, copy_workspace, free_port, get, median, table
from _common import wait_for as wait_until_up

CAMPAIGN = "online-submission"
BASE_URL = "https://thongtin.example.gov.vn"
FORMATS = ("rss", "atom", "json")
TOPICS = [f"{BASE_URL}/feeds/{locale}/all.{fmt}" for locale in ("vi", "en") for fmt in FORMATS]
TARGET_SECONDS = 2.0
HUB = """
websub:
  allow_networks: [127.0.0.0/8]
  connections: {connections}
"""


def secret_of(name: str) -> str:
    return f"bench-websub-secret-{name}"


# --- the subscribers' side (a child process) ----------------------------------------------


def serve_subscribers(ports: list[int]) -> None:
    """Callbacks /<name> on each port: confirm intent, verify each distribution."""
    import feedparser
    from aiohttp import web

    stats: dict[str, Any] = {"verified": 0, "failed": 0, "last": 0.0, "intents": 0}
    parsed: dict[str, bool] = {}  # body digest -> parses as a feed

    async def confirm(request: web.Request) -> web.Response:
        stats["intents"] += 1
        return web.Response(text=request.query.get("hub.challenge", ""))

    async def receive(request: web.Request) -> web.Response:
        body = await request.read()
        name = request.match_info["name"]
        expected = "sha256=" + hmac.new(secret_of(name).encode(), body, hashlib.sha256).hexdigest()
        digest = hashlib.sha256(body).hexdigest()
        if digest not in parsed:
            if body.startswith(b"{"):  # JSON Feed 1.1 (feedparser reads only XML feeds)
                document = json.loads(body)
                good = document.get("version", "").startswith("https://jsonfeed.org/")
            else:
                good = not feedparser.parse(body).bozo
            parsed[digest] = good and b"online-submission" in body
        signed = hmac.compare_digest(request.headers.get("X-Hub-Signature", ""), expected)
        if not (signed and parsed[digest]):
            stats["failed"] += 1
            return web.Response(status=400)
        stats["verified"] += 1
        stats["last"] = time.time()
        return web.Response(status=204)

    async def report(request: web.Request) -> web.Response:
        return web.json_response(stats)

    async def reset(request: web.Request) -> web.Response:
        stats.update(verified=0, failed=0, last=0.0)
        return web.json_response(stats)

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/stats", report)
        app.router.add_get("/reset", reset)
        app.router.add_get("/{name}", confirm)
        app.router.add_post("/{name}", receive)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        for port in ports:
            await web.TCPSite(runner, "127.0.0.1", port, backlog=1024).start()
        await asyncio.Event().wait()

    asyncio.run(main())


# --- the agency's side (this process) -----------------------------------------------------


async def run(
    root: Path, env: dict[str, str], args: Any, ports: list[int]
) -> list[tuple[float, dict[str, Any]]]:
    """Subscribe every callback (verified), then publish `repeats` times: per repeat, the
    time just before publishing and what the subscribers counted."""
    from broadcaster.channels.feed import FeedChannel
    from broadcaster.outbox.tables import PublicationSource
    from broadcaster.service import open_service
    from broadcaster.settings import Settings

    settings = Settings.from_environ(root, env)
    results = []
    async with open_service(settings, schedule=False, deliver=False) as service:
        await service.refresh_public()  # the feeds exist before anyone subscribes
        channel = service.channels["feeds"]
        assert isinstance(channel, FeedChannel)
        began = time.perf_counter()
        for index in range(args.subscribers):
            name = f"s{index:04d}"
            answer = channel.hub.request(
                {
                    "hub.mode": "subscribe",
                    "hub.topic": TOPICS[index % len(TOPICS)],
                    "hub.callback": f"http://127.0.0.1:{ports[index % len(ports)]}/{name}",
                    "hub.secret": secret_of(name),
                }
            )
            assert answer.status == 202, answer.message
        await channel.hub.verified()
        active = await service.partners.hub.count_active()
        print(f"{active} subscriptions verified in {time.perf_counter() - began:.2f} s")
        assert active == args.subscribers, "not every subscription was verified"
        for _ in range(args.repeats):
            get(ports[0], "/reset")
            started = time.time()
            await service.publisher.publish(CAMPAIGN, ["feeds"], source=PublicationSource.CLI)
            queued = time.time()
            await service.workers.run_until_idle("bench")
            settled = time.time()
            seen = await arrived(ports[0], args.subscribers)
            seen.update(queued=queued - started, settled=settled - started)
            results.append((started, seen))
    return results


async def arrived(port: int, count: int, within: float = 30) -> dict[str, Any]:
    """The subscribers' counts once `count` distributions arrived verified (or `within` s)."""
    deadline = time.time() + within
    seen = stats(port)
    while seen["verified"] + seen["failed"] < count and time.time() < deadline:
        await asyncio.sleep(0.02)
        seen = stats(port)
    return seen


def stats(port: int) -> dict[str, Any]:
    status, _, body = get(port, "/stats")
    assert status == 200
    result: dict[str, Any] = json.loads(body)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--servers", type=int, default=4)
    parser.add_argument("--connections", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--postgres", help="postgresql+asyncpg://... (an empty database)")
    parser.add_argument("--serve", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve_subscribers([int(p) for p in args.serve])
        return

    with tempfile.TemporaryDirectory(prefix="bench-websub-") as tmp, Children() as kids:
        root = copy_workspace(Path(tmp) / "ws")
        feeds = root / "channels" / "feeds.yaml"
        feeds.write_text(
            feeds.read_text(encoding="utf-8") + HUB.format(connections=args.connections),
            encoding="utf-8",
        )
        (root / "var").mkdir(exist_ok=True)
        env = {
            **os.environ,
            "BROADCASTER_DATABASE_URL": args.postgres or f"sqlite+aiosqlite:///{root}/var/db",
            "BROADCASTER_SECRET_KEY": "bench-secret-key-bench-secret-key-0123",
            "BROADCASTER_BASE_URL": BASE_URL,
        }
        ports = [free_port() for _ in range(args.servers)]
        server = kids.start(
            [sys.executable, __file__, "--serve", *map(str, ports)],
            log=Path(tmp) / "subscribers.log",
        )
        wait_until_up(ports[0], "/stats", 30, server)
        results = asyncio.run(run(root, env, args, ports))
        rows, latencies = [], []
        for repeat, (started, seen) in enumerate(results, start=1):
            latency = seen["last"] - started
            latencies.append(latency)
            rate = seen["verified"] / latency if latency > 0 else float("nan")
            counts = [seen["verified"], seen["failed"], seen["queued"], seen["settled"]]
            rows.append([repeat, *counts, latency, rate])
        print(
            f"{args.subscribers} WebSub subscribers on {args.servers} local servers, "
            f"{args.connections} connections, {'PostgreSQL' if args.postgres else 'SQLite'}"
        )
        headers = ["repeat", "verified", "failed", "queued s", "settled s", "last s", "per s"]
        print(table(headers, rows))
        best = median(latencies)
        verdict = "met" if best <= TARGET_SECONDS else "NOT met"
        print(f"median {best:.3f} s from publication to the last verified distribution ({verdict})")


if __name__ == "__main__":
    main()

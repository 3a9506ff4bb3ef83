"""Webhook fan-out: one publication to 1,000 partner endpoints, every request verified.

    .venv/bin/python bench/webhooks.py [--partners 1000] [--servers 4] [--repeats 3]
                                       [--postgres URL]

A throwaway copy of the example workspace gets a webhook channel that may reach
127.0.0.0/8 and PARTNERS registered partners (each with its own secret, Vietnamese only).
A separate process runs SERVERS aiohttp servers on 127.0.0.1 serving PARTNERS endpoints
between them; each endpoint checks every request with `standardwebhooks`
(`Webhook(secret).verify(body, headers)`) and answers 200 (or 400 when it fails).

Each repeat publishes `online-submission` on the webhook channel in this process (the
same Publisher, outbox, bulk workers and shared HTTP session `serve` uses) and measures
from just before `publish` to the arrival of the last verified request at the partners:
the render, the outbox insert of PARTNERS deliveries, the claims, signing, sending and the
settle. Repeats after the first send `publication.updated` (the ordering check runs).
Target: all delivered and verified within 2 s.
"""

from __future__ import annotations

import argparse
import asyncio
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
TARGET_SECONDS = 2.0
CHANNEL = """\
type: webhook
timeout: 15
connections: {connections}
allow_networks: [127.0.0.0/8]
"""


# --- the partners' side (a child process) -------------------------------------------------


def serve_partners(ports: list[int], secrets_file: Path) -> None:
    """Endpoints /<name> on each port; verify every request; GET /stats reports."""
    from aiohttp import web
    from standardwebhooks import Webhook
    from standardwebhooks.webhooks import WebhookVerificationError

    hooks = {name: Webhook(secret) for name, secret in json.loads(secrets_file.read_text()).items()}
    stats: dict[str, Any] = {"verified": 0, "failed": 0, "last": 0.0, "first": 0.0, "ids": 0}
    seen: set[str] = set()

    async def receive(request: web.Request) -> web.Response:
        body = await request.read()
        hook = hooks.get(request.match_info["name"])
        try:
            if hook is None:
                raise WebhookVerificationError("unknown endpoint")
            hook.verify(body, dict(request.headers))
        except WebhookVerificationError:
            stats["failed"] += 1
            return web.Response(status=400)
        now = time.time()
        stats["verified"] += 1
        stats["first"] = stats["first"] or now
        stats["last"] = now
        seen.add(request.headers["webhook-id"])
        stats["ids"] = len(seen)
        return web.Response(text="ok")

    async def report(request: web.Request) -> web.Response:
        return web.json_response(stats)

    async def reset(request: web.Request) -> web.Response:
        stats.update(verified=0, failed=0, last=0.0, first=0.0, ids=0)
        seen.clear()
        return web.json_response(stats)

    async def main() -> None:
        app = web.Application()
        app.router.add_post("/{name}", receive)
        app.router.add_get("/stats", report)
        app.router.add_get("/reset", reset)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        for port in ports:
            await web.TCPSite(runner, "127.0.0.1", port, backlog=1024).start()
        await asyncio.Event().wait()

    asyncio.run(main())


# --- the agency's side (this process) -----------------------------------------------------


async def register(root: Path, env: dict[str, str], count: int, ports: list[int]) -> dict[str, str]:
    """Register `count` partners spread over `ports`; name -> secret."""
    from broadcaster.partners.store import PartnerStore
    from broadcaster.settings import Settings
    from broadcaster.store import create_engine, upgrade_engine

    settings = Settings.from_environ(root, env)
    engine = create_engine(settings.database_url)
    try:
        await upgrade_engine(engine)
        store = PartnerStore(engine, lambda: settings.secret_key)
        secrets = {}
        for index in range(count):
            name = f"p{index:04d}"
            url = f"http://127.0.0.1:{ports[index % len(ports)]}/{name}"
            _, secrets[name] = await store.add(name, url, locales=["vi"])
        return secrets
    finally:
        await engine.dispose()


async def publish_and_deliver(root: Path, env: dict[str, str]) -> tuple[float, int]:
    """(time.time() just before publish, deliveries made)."""
    from broadcaster.outbox.tables import PublicationSource
    from broadcaster.service import open_service
    from broadcaster.settings import Settings

    settings = Settings.from_environ(root, env)
    async with open_service(settings, schedule=False, deliver=False) as service:
        started = time.time()
        published = await service.publisher.publish(
            CAMPAIGN, ["partners"], source=PublicationSource.CLI
        )
        await service.workers.run_until_idle("bench")
        return started, published.deliveries


def stats(port: int) -> dict[str, Any]:
    status, _, body = get(port, "/stats")
    assert status == 200
    result: dict[str, Any] = json.loads(body)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--partners", type=int, default=1000)
    parser.add_argument("--servers", type=int, default=4)
    parser.add_argument("--connections", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--postgres", help="postgresql+asyncpg://... (an empty database)")
    parser.add_argument("--serve", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        *ports, secrets_file = args.serve
        serve_partners([int(p) for p in ports], Path(secrets_file))
        return

    with tempfile.TemporaryDirectory(prefix="bench-webhooks-") as tmp, Children() as kids:
        root = copy_workspace(Path(tmp) / "ws")
        (root / "channels" / "partners.yaml").write_text(
            CHANNEL.format(connections=args.connections), encoding="utf-8"
        )
        (root / "var").mkdir()
        env = {
            **os.environ,
            "BROADCASTER_DATABASE_URL": args.postgres or f"sqlite+aiosqlite:///{root}/var/db",
            "BROADCASTER_SECRET_KEY": "bench-secret-key-bench-secret-key-0123",
            "BROADCASTER_BASE_URL": "https://thongtin.example.gov.vn",
        }
        ports = [free_port() for _ in range(args.servers)]
        secrets = asyncio.run(register(root, env, args.partners, ports))
        secrets_file = Path(tmp) / "secrets.json"
        secrets_file.write_text(json.dumps(secrets))
        server = kids.start(
            [sys.executable, __file__, "--serve", *map(str, ports), str(secrets_file)],
            log=Path(tmp) / "partners.log",
        )
        wait_until_up(ports[0], "/stats", 30, server)
        rows, latencies = [], []
        for repeat in range(1, args.repeats + 1):
            get(ports[0], "/reset")
            started, queued = asyncio.run(publish_and_deliver(root, env))
            deadline = time.time() + 30
            while (seen := stats(ports[0]))["verified"] < queued and time.time() < deadline:
                time.sleep(0.02)
            latency = seen["last"] - started
            latencies.append(latency)
            rate = seen["verified"] / latency if latency > 0 else float("nan")
            rows.append([repeat, queued, seen["verified"], seen["failed"], latency, rate])
        print(
            f"{args.partners} partners on {args.servers} local servers, "
            f"{args.connections} connections, "
            f"{'PostgreSQL' if args.postgres else 'SQLite'}"
        )
        print(table(["repeat", "queued", "verified", "failed", "seconds", "deliveries/s"], rows))
        best = median(latencies)
        verdict = "met" if best <= TARGET_SECONDS else "NOT met"
        print(f"median {best:.3f} s from publication to the last verified delivery ({verdict})")


if __name__ == "__main__":
    main()

"""What each serving change gives: the same feed bytes behind five server set-ups vs nginx.

    .venv/bin/python bench/static_variants.py [--repeats 5] [--duration 5] [--connections 32]

Variants (each one process, one CPU, the feed from `StaticFiles` in memory):

    app-asyncio       web.Application + router + StaticFiles.handle on asyncio (serve before)
    app-uvloop        the same on uvloop
    lowlevel-uvloop   aiohttp's low-level web.Server(StaticFiles.handle), no router, uvloop
    fast-asyncio      FastPath in front of the app (as `serve` runs it now) on asyncio
    fast-uvloop       FastPath in front of the app on uvloop: what `broadcaster serve` runs

Same wrk, same rounds and same report as feeds_vs_nginx.py (which measures `serve` itself).
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
from pathlib import Path
from typing import cast

from _common import Children, broadcaster, copy_workspace, free_port
from _common import wait_for as wait_until_up
from feeds_vs_nginx import FEED, checked, compare, options, pin, prerequisites, report, start_nginx

VARIANTS = ("app-asyncio", "app-uvloop", "lowlevel-uvloop", "fast-asyncio", "fast-uvloop")


async def _run_variant(variant: str, port: int, body: bytes) -> None:
    from aiohttp import web

    from broadcaster.site.fastpath import FastPath
    from broadcaster.site.static import StaticFiles
    from broadcaster.web.app import _FastSite, _other_routes
    from broadcaster.web.keys import STATIC

    files = StaticFiles()
    files.replace({FEED.lstrip("/"): body}, last_modified={})

    async def low_level(request: web.BaseRequest) -> web.StreamResponse:
        return await files.handle(cast(web.Request, request))  # it only reads BaseRequest's

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    runner: web.BaseRunner
    if variant.startswith("lowlevel"):
        runner = web.ServerRunner(web.Server(low_level, access_log=None))
    else:
        app = web.Application()
        app[STATIC] = files
        app.router.add_get("/healthz", healthz)
        app.router.add_route("*", "/{path:.*}", files.handle)
        runner = web.AppRunner(app, access_log=None, keepalive_timeout=75.0)
    await runner.setup()
    site: web.TCPSite
    if variant.startswith("fast"):
        assert isinstance(runner, web.AppRunner)
        assert runner.server is not None
        reserved = _other_routes(runner.app, files)
        assert reserved is not None
        fast = FastPath(files, runner.server, reserved=reserved)
        site = _FastSite(runner, "127.0.0.1", port, fast=fast)
    else:
        site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    await asyncio.Event().wait()


def serve_variant(variant: str, port: int, feed: Path) -> None:
    """The child process: one variant serving `feed` until terminated."""
    body = feed.read_bytes()
    if variant.endswith("uvloop"):
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(_run_variant(variant, port, body))
    else:
        asyncio.run(_run_variant(variant, port, body))


def main() -> None:
    if sys.argv[1:2] == ["--serve"]:
        serve_variant(sys.argv[2], int(sys.argv[3]), Path(sys.argv[4]))
        return
    parser = options(__doc__.split("\n\n")[0])
    parser.add_argument(
        "--variants", default=",".join(VARIANTS), help="comma-separated subset of the variants"
    )
    args = checked(parser)
    chosen = [v.strip() for v in args.variants.split(",") if v.strip()]
    if unknown := set(chosen) - set(VARIANTS):
        parser.error(f"unknown variants {sorted(unknown)}; use some of {', '.join(VARIANTS)}")
    wrk_path, nginx = prerequisites()
    tmp = Path(tempfile.mkdtemp(prefix="bench-variants-"))
    try:
        with Children() as children:
            root = copy_workspace(tmp / "workspace")
            print(f"workspace {root}: publishing every campaign ...", flush=True)
            broadcaster("publish", "--all", "--wait", root=root)
            feed = root / "public" / FEED.lstrip("/")
            body = feed.read_bytes()
            servers = {"nginx": start_nginx(children, tmp, nginx, body, args.pin)}
            for variant in chosen:
                port = free_port()
                command = [sys.executable, __file__, "--serve", variant, str(port), str(feed)]
                child = children.start([*pin(1, args.pin), *command], log=tmp / f"{variant}.log")
                wait_until_up(port, FEED, 30, child)
                servers[variant] = port
            results = compare(servers, body, [*pin(0, args.pin), wrk_path], args)
    except KeyboardInterrupt:
        sys.exit("interrupted; every process this script started was stopped")
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    report(results, args)


if __name__ == "__main__":
    main()

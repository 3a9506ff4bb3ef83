"""The aiohttp application `broadcaster serve` runs: public site, feeds, health, metrics."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from ..metrics import CONTENT_TYPE
from ..service import Service, open_service
from ..settings import Settings
from .static import StaticFiles

log = logging.getLogger(__name__)

SERVICE = web.AppKey("service", Service)
WATCHED = ("campaigns", "channels", "templates", "schedules.yaml")


async def healthz(request: web.Request) -> web.Response:
    """200 with JSON when the store answers, 503 when it does not."""
    service = request.app[SERVICE]
    ok = await service.healthy()
    body = {
        "status": "ok" if ok else "unavailable",
        "store": "ok" if ok else "not answering",
        "campaigns": len(service.workspace.campaigns),
    }
    return web.json_response(body, status=200 if ok else 503)


async def metrics(request: web.Request) -> web.Response:
    """Prometheus text format."""
    service = request.app[SERVICE]
    with contextlib.suppress(Exception):
        service.metrics.snapshot.deliveries = await service.count_deliveries()
    return web.Response(body=service.metrics.render(), headers={"Content-Type": CONTENT_TYPE})


def _signature(root: Path) -> tuple[tuple[str, int, int], ...]:
    entries: list[tuple[str, int, int]] = []
    for name in WATCHED:
        top = root / name
        paths = [top] if top.is_file() else sorted(top.rglob("*")) if top.is_dir() else []
        for path in paths:
            with contextlib.suppress(OSError):
                stat = path.stat()
                entries.append((str(path), stat.st_mtime_ns, stat.st_size))
    return tuple(entries)


async def _watch(service: Service, interval: float = 1.0) -> None:
    root = service.settings.root
    seen = await asyncio.to_thread(_signature, root)
    while True:
        await asyncio.sleep(interval)
        now = await asyncio.to_thread(_signature, root)
        if now != seen:
            seen = now
            log.info("workspace files changed; reloading")
            await service.reload()


def make_app(settings: Settings, *, watch: bool = False) -> web.Application:
    """The application; the service opens on startup and closes on cleanup."""
    app = web.Application()
    static = StaticFiles()

    async def lifetime(app: web.Application) -> AsyncIterator[None]:
        async with open_service(settings, static=static) as service:
            app[SERVICE] = service
            loop = asyncio.get_running_loop()
            reloads: set[asyncio.Task[bool]] = set()

            def on_hangup() -> None:
                log.info("SIGHUP: reloading the workspace")
                task = asyncio.create_task(service.reload())
                reloads.add(task)
                task.add_done_callback(reloads.discard)

            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signal.SIGHUP, on_hangup)
            watcher = asyncio.create_task(_watch(service)) if watch else None
            log.info("serving %s on http://%s", settings.root, settings.listen)
            try:
                yield
            finally:
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.remove_signal_handler(signal.SIGHUP)
                if watcher is not None:
                    watcher.cancel()
                    await asyncio.gather(watcher, return_exceptions=True)

    app.cleanup_ctx.append(lifetime)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    app.router.add_route("*", "/{path:.*}", static.handle)
    return app

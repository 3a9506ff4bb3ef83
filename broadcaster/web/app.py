"""The aiohttp application `broadcaster serve` runs: public site, feeds, health, metrics."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from broadcaster.settings import Settings
from broadcaster.site.fastpath import NEVER_GENERATED, FastPath
from broadcaster.site.static import StaticFiles
from broadcaster.store.engine import StoreHealth, store_health
from broadcaster.web.admin.app import make_admin
from broadcaster.web.alerts import add_alerts
from broadcaster.web.bulletins import add_bulletins
from broadcaster.web.forwarded import STATIC_SAFE, forwarded_for
from broadcaster.web.keys import (
    ENGINE,
    LIVE,
    RELOAD,
    SETTINGS,
    STATIC,
    Reload,
)
from broadcaster.web.metrics_route import metrics, metrics_app
from broadcaster.web.press import add_press_room
from broadcaster.web.subscription_routes import add_subscriptions
from broadcaster.web.subscriptions import Limits
from broadcaster.web.websub import HubLimits, add_websub

log = logging.getLogger(__name__)

WATCHED = ("campaigns", "channels", "templates", "schedules.yaml")

CleanupContext = Callable[[web.Application], AsyncIterator[None]]
# Given the app's static files, what opens the parts on startup and puts them under their keys.
Opener = Callable[[StaticFiles], CleanupContext]


class StoreHealthProbe:
    """Probes the store for /healthz; polls that come while a probe runs share its answer."""

    def __init__(self) -> None:
        self._probing: asyncio.Future[StoreHealth] | None = None

    async def get(self, engine: AsyncEngine) -> StoreHealth:
        """A new probe, or the one under way."""
        if self._probing is None:
            self._probing = asyncio.ensure_future(self._probe(engine))
        return await asyncio.shield(self._probing)

    async def _probe(self, engine: AsyncEngine) -> StoreHealth:
        try:
            return await store_health(engine)
        finally:
            self._probing = None


HEALTH = web.AppKey("health", StoreHealthProbe)


async def healthz(request: web.Request) -> web.Response:
    """200 with JSON when the store answers and can write; 503 saying what is wrong if not."""
    health = await request.app[HEALTH].get(request.app[ENGINE])
    body: dict[str, object] = {
        "status": "ok" if health.ok else "unavailable",
        "store": health.store,
        "campaigns": len(request.app[LIVE].workspace.campaigns),
    }
    if health.reason is not None:
        body["reason"] = health.reason
    return web.json_response(body, status=200 if health.ok else 503)


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


async def _watch(root: Path, reload: Reload, interval: float = 1.0) -> None:
    seen = await asyncio.to_thread(_signature, root)
    while True:
        await asyncio.sleep(interval)
        now = await asyncio.to_thread(_signature, root)
        if now != seen:
            seen = now
            log.info("workspace files changed; reloading")
            await reload()


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def _reloading(watch: bool) -> CleanupContext:
    """Reload the workspace on SIGHUP (and, with `watch`, when its files change)."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        reload, settings = app[RELOAD], app[SETTINGS]
        reloads: set[asyncio.Task[bool]] = set()
        stopping = asyncio.Event()

        def on_hangup() -> None:
            if stopping.is_set():
                log.info("SIGHUP while stopping: ignored")
                return
            log.info("SIGHUP: reloading the workspace")
            task = asyncio.create_task(reload())
            reloads.add(task)
            task.add_done_callback(reloads.discard)

        async with contextlib.AsyncExitStack() as stack:
            # A reload still running (SIGHUP just before SIGTERM) finishes last, before the
            # service closes: it would otherwise load jobs into a scheduler already stopped.
            stack.push_async_callback(lambda: asyncio.gather(*reloads, return_exceptions=True))
            with contextlib.suppress(NotImplementedError, RuntimeError):
                asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, on_hangup)
            if watch:
                watcher = asyncio.create_task(_watch(settings.root, reload))
                stack.push_async_callback(_cancel, watcher)
            # The handler stays: removing it would let a late SIGHUP terminate the process
            # (or, on uvloop, fail with "ignored due to race condition"); it ignores it.
            stack.callback(stopping.set)
            yield

    return context


def make_app(
    settings: Settings,
    open_parts: Opener,
    *,
    watch: bool = False,
    limits: Limits | None = None,
    hub_limits: HubLimits | None = None,
) -> web.Application:
    """The application; `open_parts` opens what it serves on startup and closes it on cleanup
    (broadcaster.service.make_app passes the whole service). `limits` are the subscribe
    form's rate limits, `hub_limits` the WebSub hub's.
    """
    app = web.Application()
    if settings.trusted_proxies:
        app.middlewares.append(forwarded_for(settings.trusted_proxies))
    static = StaticFiles(base_url=settings.base_url)
    app[STATIC] = static
    app[HEALTH] = StoreHealthProbe()
    # Cleanup contexts start in this order and stop in reverse: the service outlives both.
    app.cleanup_ctx.append(open_parts(static))
    app.cleanup_ctx.append(_reloading(watch))
    add_subscriptions(app, limits)
    add_websub(app, hub_limits)
    app.add_subapp("/admin", make_admin())
    app.router.add_get("/healthz", healthz)
    if not settings.metrics_listen:  # else only there (metrics_app)
        app.router.add_get("/metrics", metrics)
    add_alerts(app)
    add_bulletins(app)
    add_press_room(app)
    app.router.add_route("*", "/{path:.*}", static.handle)
    return app


# --- Running it: `web.run_app`, on uvloop, with the static fast path in front ---------------


def _new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's event loop when it is installed (it is a dependency off Windows), else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def _other_routes(app: web.Application, static: StaticFiles) -> list[str] | None:
    """Path prefixes `app` routes to something other than `static`; None: don't bypass it."""
    if app.on_response_prepare or not all(getattr(m, STATIC_SAFE, False) for m in app.middlewares):
        return None  # the fast path would skip them
    prefixes = []
    for resource in app.router.resources():
        if all(route.handler == static.handle for route in resource):
            continue
        if all(getattr(route.handler, NEVER_GENERATED, False) for route in resource):
            continue  # no generated file lives there: the fast path passes them on
        info = resource.get_info()
        raw = info.get("path") or info.get("formatter") or info.get("prefix")
        if not isinstance(raw, str) or not raw.startswith("/"):
            return None
        prefixes.append(raw.split("{", 1)[0])
    return None if "/" in prefixes else prefixes


class _FastSite(web.TCPSite):
    """A TCPSite whose connections go through `FastPath` first, then aiohttp's protocol;
    on `sock` when given (bound already), else on a socket bound to `host` and `port`."""

    def __init__(
        self,
        runner: web.AppRunner,
        host: str,
        port: int,
        *,
        fast: FastPath,
        sock: socket.socket | None = None,
    ) -> None:
        super().__init__(runner, host, port)
        self.fast = fast
        self.sock = sock

    async def start(self) -> None:
        await web.BaseSite.start(self)
        loop = asyncio.get_running_loop()
        if self.sock is not None:
            self._server = await loop.create_server(
                self.fast, sock=self.sock, backlog=self._backlog
            )
        else:
            self._server = await loop.create_server(
                self.fast, self._host, self._port, backlog=self._backlog
            )
        self._bound_port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        await super().stop()
        self.fast.close()


class CannotListen(Exception):
    """The address `serve` is to listen on is taken, or not this machine's."""


def bind(host: str, port: int, backlog: int = 128) -> socket.socket:
    """A listening socket on `host`:`port`, made before anything else starts, so that a
    port in use fails at once: before the store is opened or a schedule catches up.
    Connections that arrive while the service starts wait in the backlog."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except OSError as exc:
        raise CannotListen(f"{host}:{port}: {exc.strerror or exc}") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as asyncio does
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
        sock.listen(backlog)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise CannotListen(f"{host}:{port}: {exc.strerror or exc}") from None
    return sock


async def _serve(
    app: web.Application,
    host: str,
    port: int,
    shutdown_timeout: float,
    metrics_at: tuple[str, int] | None,
) -> None:
    sock = bind(host, port)
    try:
        metrics_sock = bind(*metrics_at) if metrics_at else None
    except CannotListen as exc:
        sock.close()
        raise CannotListen(f"{exc} (BROADCASTER_METRICS_LISTEN)") from None
    keepalive_timeout = 75.0  # web.run_app's default
    runner = web.AppRunner(
        app,
        handle_signals=True,
        access_log=None,
        shutdown_timeout=shutdown_timeout,
        keepalive_timeout=keepalive_timeout,
    )
    stack = contextlib.AsyncExitStack()
    try:
        await runner.setup()  # opens the service: the store first, the scheduler last
        assert runner.server is not None
        reserved = _other_routes(app, app[STATIC]) if STATIC in app else None
        site: web.BaseSite
        if reserved is None:
            log.info("static fast path off: the app has middlewares or overlapping routes")
            site = web.SockSite(runner, sock)
        else:
            fast = FastPath(
                app[STATIC],
                runner.server,
                reserved=reserved,
                keepalive_timeout=keepalive_timeout,
            )
            site = _FastSite(runner, host, port, fast=fast, sock=sock)
        await site.start()
        if metrics_sock is not None:
            await _serve_metrics(stack, app, metrics_sock)
        if SETTINGS in app:
            settings = app[SETTINGS]
            log.info("serving %s on http://%s", settings.root, settings.listen)
        await asyncio.Event().wait()  # until SIGINT or SIGTERM
    finally:
        await stack.aclose()
        await runner.cleanup()
        sock.close()
        if metrics_sock is not None:
            metrics_sock.close()


async def _serve_metrics(
    stack: contextlib.AsyncExitStack, app: web.Application, sock: socket.socket
) -> None:
    """Answer /metrics, about `app`, on `sock` alone (BROADCASTER_METRICS_LISTEN)."""
    runner = web.AppRunner(metrics_app(app), handle_signals=False, access_log=None)
    await runner.setup()
    stack.push_async_callback(runner.cleanup)
    await web.SockSite(runner, sock).start()
    log.info("metrics on http://%s/metrics", app[SETTINGS].metrics_listen)


def run(
    app: web.Application,
    *,
    host: str,
    port: int,
    shutdown_timeout: float,
    metrics_at: tuple[str, int] | None = None,
) -> None:
    """What `web.run_app(app, access_log=None, print=None)` does, faster for static files.

    Two differences, both for throughput: the loop is uvloop's when installed, and the hot
    static GETs are answered by `FastPath` below aiohttp (everything else reaches the app
    unchanged). SIGINT and SIGTERM stop it gracefully, as with run_app. With `metrics_at`
    (BROADCASTER_METRICS_LISTEN), /metrics is answered there alone.
    """
    loop = _new_event_loop()
    main = loop.create_task(_serve(app, host, port, shutdown_timeout, metrics_at))
    try:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(main)
    except (web.GracefulExit, KeyboardInterrupt):
        pass
    finally:
        try:
            if not main.done():
                main.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    loop.run_until_complete(main)
        finally:
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            asyncio.set_event_loop(None)
            loop.close()

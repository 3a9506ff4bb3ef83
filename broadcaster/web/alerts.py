"""Public alert routes: `/cap/{identifier}.xml` (one CAP 1.2 alert) and `/cap/index.atom`
(the Atom index of current alerts), with ETags and conditional GET."""

from __future__ import annotations

import hashlib

from aiohttp import web

from broadcaster.alerts.cap import CAP_MEDIA_TYPE
from broadcaster.alerts.public import PublicAlerts

ALERTS = web.AppKey("alerts", PublicAlerts)
_CACHE = "public, max-age=60"


def _answer(request: web.Request, data: bytes, content_type: str) -> web.Response:
    etag = f'"{hashlib.sha256(data).hexdigest()[:32]}"'
    headers = {"ETag": etag, "Cache-Control": _CACHE, "X-Content-Type-Options": "nosniff"}
    if etag in request.headers.get("If-None-Match", ""):
        return web.Response(status=304, headers=headers)
    return web.Response(body=data, content_type=content_type, charset="utf-8", headers=headers)


async def alert(request: web.Request) -> web.Response:
    """One alert by identifier; 404 for an unknown one."""
    data = await request.app[ALERTS].document(request.match_info["identifier"])
    if data is None:
        raise web.HTTPNotFound(text="no such alert\n")
    return _answer(request, data, CAP_MEDIA_TYPE)


async def index(request: web.Request) -> web.Response:
    """The Atom index of current alerts."""
    return _answer(request, await request.app[ALERTS].index(), "application/atom+xml")


def add_alerts(app: web.Application) -> None:
    """Register the routes (before the site's catch-all)."""
    app.router.add_get("/cap/index.atom", index)
    app.router.add_get(r"/cap/{identifier:[A-Za-z0-9._-]+}.xml", alert)

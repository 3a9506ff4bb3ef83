"""The /metrics route: Prometheus text, behind a bearer token when one is set
(BROADCASTER_METRICS_TOKEN), on the service's address or on one of its own
(BROADCASTER_METRICS_LISTEN)."""

from __future__ import annotations

import contextlib
import hmac

from aiohttp import web

from broadcaster.web.keys import COUNT_DELIVERIES, METRICS, SETTINGS
from broadcaster.web.metrics import CONTENT_TYPE

# The application whose parts a separate metrics listener reports on.
SOURCE = web.AppKey("metrics_source", web.Application)


def _authorised(request: web.Request, token: str) -> bool:
    """Whether the request carries `Authorization: Bearer <token>` (compared in constant
    time, so the answer's timing does not give the token away)."""
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())


async def metrics(request: web.Request) -> web.Response:
    """Prometheus text format; 401 without the bearer token when one is set."""
    app = request.app.get(SOURCE, request.app)
    token = app[SETTINGS].metrics_token
    if token and not _authorised(request, token):
        return web.json_response(
            {"error": "send the metrics token: Authorization: Bearer <BROADCASTER_METRICS_TOKEN>"},
            status=401,
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    registry = app[METRICS]
    with contextlib.suppress(Exception):
        await registry.refresh_deliveries(app[COUNT_DELIVERIES])
    return web.Response(
        body=registry.render(),
        headers={"Content-Type": CONTENT_TYPE, "Cache-Control": "no-store"},
    )


def metrics_app(source: web.Application) -> web.Application:
    """An application answering only /metrics, about `source` (the service's app, once
    started): what listens on BROADCASTER_METRICS_LISTEN."""
    app = web.Application()
    app[SOURCE] = source
    app.router.add_get("/metrics", metrics)
    return app

"""`POST /websub`: the WebSub hub's subscription endpoint (the feed channel is the hub).

The form goes to the feed channel's hub (broadcaster.channels.websub), which answers
202 Accepted and verifies the intent in the background, or 4xx saying what to fix.
Requests are rate-limited in memory per client (an IPv4 address or an IPv6 /64) and per
callback host, so the hub cannot be used to flood someone else's server with
verification requests.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web
from yarl import URL

from broadcaster.channels.feed import FeedChannel
from broadcaster.web.keys import LIVE
from broadcaster.web.ratelimit import Rate, RateLimiter, client_key

MAX_BODY = 16 * 1024  # a subscription request is a few short fields
TEXT = "text/plain; charset=utf-8"


PER_CLIENT = Rate(burst=30, period=60)
PER_CALLBACK_HOST = Rate(burst=10, period=60)


@dataclass(frozen=True)
class HubLimits:
    """Subscription requests allowed per client and per callback host, per process."""

    per_client: Rate = PER_CLIENT
    per_callback_host: Rate = PER_CALLBACK_HOST


@dataclass
class _Limiters:
    per_client: RateLimiter
    per_callback_host: RateLimiter


LIMITERS = web.AppKey("websub_limiters", _Limiters)


def _answer(status: int, message: str, **headers: str) -> web.Response:
    return web.Response(
        status=status, text=message + "\n", headers={"Content-Type": TEXT, **headers}
    )


def _too_many(wait: int) -> web.Response:
    return _answer(
        429, f"too many subscription requests; try again in {wait} s", **{"Retry-After": str(wait)}
    )


async def websub(request: web.Request) -> web.Response:
    """A subscribe or unsubscribe request (form fields hub.mode, hub.topic, hub.callback,
    hub.lease_seconds, hub.secret)."""
    limiters = request.app[LIMITERS]
    wait = limiters.per_client.take(client_key(request.remote))
    if wait:
        return _too_many(wait)
    if request.content_length is not None and request.content_length > MAX_BODY:
        return _answer(413, f"a subscription request is at most {MAX_BODY} bytes")
    if request.content_type != "application/x-www-form-urlencoded":
        return _answer(
            415, "send the request as a form: Content-Type application/x-www-form-urlencoded"
        )
    try:
        form = await request.post()
    except (ValueError, web.HTTPException):
        return _answer(400, "the form cannot be read; send hub.* fields form-encoded")
    fields = {name: value for name, value in form.items() if isinstance(value, str)}
    callback_host = URL(fields.get("hub.callback", "")).host or ""
    wait = limiters.per_callback_host.take(f"callback:{callback_host}")
    if wait:
        return _too_many(wait)
    hubs = [c for c in request.app[LIVE].channels.values() if isinstance(c, FeedChannel)]
    if not hubs:
        return _answer(404, "this service publishes no feeds, so it runs no WebSub hub")
    answer = hubs[0].hub.request(fields)
    return _answer(answer.status, answer.message)


async def hub_page(request: web.Request) -> web.Response:
    """A GET of the hub: say what it is and how to use it."""
    return _answer(
        200,
        "WebSub hub of this site's feeds. Subscribe with a form POST of hub.mode=subscribe, "
        "hub.topic (a feed URL), hub.callback, and optionally hub.lease_seconds and hub.secret.",
    )


def add_websub(app: web.Application, limits: HubLimits | None = None) -> None:
    """Serve `/websub`; add it before the catch-all route."""
    limits = limits or HubLimits()
    app[LIMITERS] = _Limiters(RateLimiter(limits.per_client), RateLimiter(limits.per_callback_host))
    app.router.add_post("/websub", websub)
    app.router.add_get("/websub", hub_page)

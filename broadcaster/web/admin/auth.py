"""Who is asking: session cookies and bearer tokens; CSRF and Origin checks.

A browser session is a random token in an HttpOnly, SameSite=Lax cookie (Secure when the
base URL is https) naming a row in the store, so it can be revoked: signing out, a password
change, a role change or disabling the user ends it. Every state-changing request made with
the cookie must carry the session's CSRF token (form field `csrf_token` or header
`X-CSRF-Token`) and an Origin (or Referer) of this site. Bearer tokens are not sent by
browsers on their own, so API calls with one need neither.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from broadcaster.staff.accounts import Accounts, Session

COOKIE = "broadcaster_admin"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
CURRENT = web.RequestKey("admin_session", object)


def client_ip(request: web.Request) -> str:
    """The client's address: the peer, or the visitor behind a trusted proxy (set in
    BROADCASTER_TRUSTED_PROXIES; web/forwarded.py)."""
    return request.remote or "unknown"


def same_origin(request: web.Request, base_url: str) -> bool:
    """True when the request's Origin (or Referer) is this site."""
    origin = request.headers.get("Origin")
    if origin is None or origin == "null":
        referer = request.headers.get("Referer")
        if not referer:
            return False
        parts = urlsplit(referer)
        origin = f"{parts.scheme}://{parts.netloc}"
    allowed = {_origin(base_url), f"{request.scheme}://{request.host}"}
    return origin.rstrip("/") in allowed


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def set_cookie(response: web.StreamResponse, token: str, base_url: str) -> None:
    """The session cookie: HttpOnly, SameSite=Lax, Secure on https, path /admin."""
    response.set_cookie(
        COOKIE,
        token,
        path="/admin",
        httponly=True,
        samesite="Lax",
        secure=base_url.startswith("https://"),
        max_age=12 * 3600,
    )


def current(request: web.Request) -> Session | None:
    """The session of this request (set by the middleware), or None."""
    found = request.get(CURRENT)
    return found if isinstance(found, Session) else None


def make_middleware(
    accounts: Callable[[web.Request], Accounts | None],
    base_url: Callable[[web.Request], str],
    refuse: Callable[[web.Request, int, str], web.StreamResponse],
    keeps_text: Callable[[web.Request], bool] = lambda request: False,
) -> Any:
    """Resolve the session; refuse cross-site and token-less state changes (a middleware).

    A same-site request that `keeps_text` (an editor's save) with a stale CSRF token (the
    page was open while its session ended and another began) runs without a session
    instead of being refused: it then only keeps the text as a draft until sign-in."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        store = accounts(request)
        session: Session | None = None
        bearer = request.headers.get("Authorization", "")
        if store is not None and bearer.lower().startswith("bearer "):
            session = await store.token_session(bearer[7:].strip())
            if session is None:
                return refuse(request, 401, "this API token is not valid (revoked or unknown)")
        elif store is not None and (token := request.cookies.get(COOKIE)):
            session = await store.session(token)
        request[CURRENT] = session
        if request.method not in SAFE_METHODS and not (session is not None and session.api):
            if session is None and request.path.startswith("/admin/api/"):
                return refuse(request, 401, "sign in, or send Authorization: Bearer <API token>")
            if not same_origin(request, base_url(request)):
                return refuse(
                    request,
                    403,
                    "refused: this request did not come from this site's own pages "
                    "(Origin check); use the admin pages, or an API token",
                )
            if session is not None:
                sent = request.headers.get("X-CSRF-Token")
                if sent is None and request.content_type in (
                    "application/x-www-form-urlencoded",
                    "multipart/form-data",
                ):
                    sent = str((await request.post()).get("csrf_token", ""))
                stale = not sent or not hmac.compare_digest(sent, session.csrf_token)
                if stale and keeps_text(request):
                    request[CURRENT] = None  # its text is kept until they sign in again
                elif stale:
                    return refuse(
                        request,
                        403,
                        "refused: the form's security token is missing or out of date "
                        "(CSRF check); reload the page and try again",
                    )
        return await handler(request)

    return middleware

"""The subscription routes and their wiring: handlers in web/subscriptions.py (subscribe)
and web/token_pages.py (the pages a signed link opens), over the app's SUBSCRIPTIONS.

Kept apart from both so neither imports the other back.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from broadcaster.text.render import Templates
from broadcaster.text.strings import text
from broadcaster.web import token_pages
from broadcaster.web.keys import CONFIRMATIONS, LIVE, SETTINGS, SUBSCRIBERS, TOKENS
from broadcaster.web.subscriptions import SUBSCRIPTIONS, Limits, Subscriptions, open_subscriptions

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Action = Callable[[Subscriptions, web.Request], Awaitable[web.Response]]


def _on(action: Action) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        return await action(request.app[SUBSCRIPTIONS], request)

    return handle


def _only(allow: str) -> Handler:
    """405 with `Allow` and a page that points to the form, for any other method."""

    async def handle(request: web.Request) -> web.StreamResponse:
        subs = request.app[SUBSCRIPTIONS]
        locale = subs.pages.pick_locale(request.query.get("lang"))
        return subs.pages.message(
            request,
            locale=locale,
            heading=text("sub_method_title", locale),
            paragraphs=[text("sub_method", locale)],
            links=[subs.pages.form_link(request, locale)],
            status=405,
            headers={"Allow": allow},
        )

    return handle


def subscription_routes() -> list[web.RouteDef]:
    """Every subscription route; the handlers use the app's SUBSCRIPTIONS."""
    confirm = "/confirm/{token}"
    unsubscribe = "/unsubscribe/{token}"
    preferences = "/preferences/{token}"
    return [
        web.post("/subscribe", _on(Subscriptions.subscribe)),
        web.route("*", "/subscribe", _only("POST")),
        web.get(confirm, _on(token_pages.confirm_page)),
        web.post(confirm, _on(token_pages.confirm)),
        web.route("*", confirm, _only("GET, HEAD, POST")),
        web.get(unsubscribe, _on(token_pages.unsubscribe_page)),
        web.post(unsubscribe, _on(token_pages.unsubscribe)),
        web.route("*", unsubscribe, _only("GET, HEAD, POST")),
        web.get(preferences, _on(token_pages.preferences_page)),
        web.post(preferences, _on(token_pages.update_preferences)),
        web.route("*", preferences, _only("GET, HEAD, POST")),
        web.get(f"{preferences}/data", _on(token_pages.download_data)),
        web.route("*", f"{preferences}/data", _only("GET, HEAD")),
        web.get(f"{preferences}/delete", _on(token_pages.delete_page)),
        web.post(f"{preferences}/delete", _on(token_pages.delete)),
        web.route("*", f"{preferences}/delete", _only("GET, HEAD, POST")),
    ]


def add_subscriptions(app: web.Application, limits: Limits | None = None) -> None:
    """Serve the subscription routes over the parts the service opened (its keys).

    Call it before adding any catch-all route, and after the cleanup context that opens
    the service (cleanup contexts start in order and stop in reverse).
    """

    async def lifetime(app: web.Application) -> AsyncIterator[None]:
        live, settings = app[LIVE], app[SETTINGS]
        async with open_subscriptions(
            store=app[SUBSCRIBERS],
            tokens=app[TOKENS],
            confirmations=app[CONFIRMATIONS],
            workspace=lambda: live.workspace,
            base_url=settings.base_url,
            templates=Templates(settings.root / "templates"),
            limits=limits or Limits(),
        ) as subscriptions:
            app[SUBSCRIPTIONS] = subscriptions
            yield

    app.cleanup_ctx.append(lifetime)
    app.router.add_routes(subscription_routes())

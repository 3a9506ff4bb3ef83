"""The /admin sub-application: pages, JSON API, sign-in; its middleware guards only it."""

from __future__ import annotations

import logging

from aiohttp import web

from broadcaster.staff.accounts import Accounts
from broadcaster.web.admin.auth import Handler, make_middleware
from broadcaster.web.admin.desk import DeskError
from broadcaster.web.admin.messages import translate
from broadcaster.web.admin.pages import language, render
from broadcaster.web.admin.routes import add_api_routes
from broadcaster.web.admin.throttle import THROTTLE, Throttle, flush_on_shutdown
from broadcaster.web.admin.ui_editor import keeps_text
from broadcaster.web.admin.ui_routes import add_ui_routes
from broadcaster.web.keys import ACCOUNTS, SETTINGS

log = logging.getLogger(__name__)

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
UNREADABLE_FORM = (
    "the form could not be read (it is not valid UTF-8 form data); "
    "reload the page and send it again"
)

NOT_FOUND = "this page does not exist; go back to the campaigns"
MAX_BODY_MB = 11  # an attachment is at most 10 MB (uploads.py), plus the form around it
TOO_LARGE = (
    f"the form is larger than {MAX_BODY_MB} MB and was not read; "
    "an attachment is at most 10 MB: choose a smaller file"
)


def _accounts(request: web.Request) -> Accounts | None:
    return request.config_dict[ACCOUNTS]


def _base_url(request: web.Request) -> str:
    return request.config_dict[SETTINGS].base_url


def _is_api(request: web.Request) -> bool:
    return request.path.startswith("/admin/api/")


def refuse(request: web.Request, status: int, message: str) -> web.StreamResponse:
    """An error as JSON for the API, as a page for people."""
    if _is_api(request):
        return web.json_response({"error": message}, status=status)
    message = translate(language(request), message)
    return render(request, "error.html", status=status, message=message, code=status)


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """DeskError (a refused request) becomes a clear answer, never a traceback."""
    try:
        return await handler(request)
    except DeskError as exc:
        if exc.status == 401 and not _is_api(request):
            raise web.HTTPSeeOther("/admin/login") from None
        return refuse(request, exc.status, exc.message)
    except web.HTTPNotFound as exc:
        if _is_api(request):
            return web.json_response({"error": exc.text or "not found"}, status=404)
        text = exc.text if exc.text and not exc.text.startswith("404") else NOT_FOUND
        return refuse(request, 404, text)


@web.middleware
async def readable_forms(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A form body that cannot be parsed (bytes that are not UTF-8) is a 400, read once here
    so the CSRF check and the handlers get it parsed."""
    if request.body_exists and request.content_type in FORM_TYPES:
        try:
            await request.post()
        except web.HTTPRequestEntityTooLarge:
            raise DeskError(413, TOO_LARGE) from None
        except (UnicodeDecodeError, ValueError):
            raise DeskError(400, UNREADABLE_FORM) from None
    return await handler(request)


def make_admin(throttle: Throttle | None = None) -> web.Application:
    """The admin sub-application, mounted at /admin by the main app."""
    app = web.Application(
        middlewares=[
            errors,
            readable_forms,
            make_middleware(_accounts, _base_url, refuse, keeps_text),
        ],
        client_max_size=MAX_BODY_MB * 1024 * 1024,
    )
    app[THROTTLE] = throttle or Throttle()
    app.on_shutdown.append(flush_on_shutdown)
    add_api_routes(app)
    add_ui_routes(app)
    return app

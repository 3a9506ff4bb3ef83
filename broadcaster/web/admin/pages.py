"""Rendering admin pages: Jinja2 templates (autoescaped) with Babel strings per language."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from broadcaster.web.admin.audit_words import MACHINE_ACTORS
from broadcaster.web.admin.auth import current
from broadcaster.web.admin.i18n import DEFAULT, LOCALES, translations
from broadcaster.web.admin.localtime import LocalTime
from broadcaster.web.keys import LIVE

TEMPLATES = Path(__file__).parents[2] / "templates" / "admin"
LANG_COOKIE = "broadcaster_admin_lang"

_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(default=True),
    extensions=["jinja2.ext.i18n"],
    trim_blocks=True,
    lstrip_blocks=True,
)
# Content-Security-Policy for every admin page: no script or style from anywhere else.
CSP = (
    "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "frame-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)


def language(request: web.Request) -> str:
    """The page language: ?lang=, then the cookie, then Vietnamese."""
    asked = request.query.get("lang") or request.cookies.get(LANG_COOKIE) or DEFAULT
    return asked if asked in LOCALES else DEFAULT


# Letters only Vietnamese uses: text with one of them is marked lang="vi" on English pages.
VIETNAMESE = re.compile("[ăâđơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ]", re.IGNORECASE)


def marked_language(text: object) -> Markup:
    """Text from data (a recipient's name): in a lang="vi" span when it is Vietnamese."""
    shown = "" if text is None else str(text)
    if VIETNAMESE.search(shown):
        return Markup('<span lang="vi">{}</span>').format(shown)
    return Markup("{}").format(shown)


def render(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    """A page in the request's language, with the session and its CSRF token."""
    lang = language(request)
    gettext = translations(lang)
    env = _env.overlay()
    env.install_gettext_translations(gettext, newstyle=True)  # type: ignore[attr-defined]
    session = current(request)
    live = request.config_dict[LIVE]
    clock = LocalTime(live.workspace.timezone, lang)
    env.filters["when"] = clock.html
    env.filters["words"] = marked_language
    context.setdefault("zone", clock.label())  # the editor names the zone its own way
    body = env.get_template(template).render(
        who=lambda name: gettext.gettext(MACHINE_ACTORS[name]) if name in MACHINE_ACTORS else name,
        clock=clock,
        lang=lang,
        session=session,
        csrf=session.csrf_token if session else "",
        policy=str(live.workspace.approval),
        quarantine={q.campaign: q for q in live.quarantine},
        path=request.path,
        **context,
    )
    response = web.Response(text=body, content_type="text/html", status=status)
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"
    if "lang" in request.query and request.query["lang"] in LOCALES:
        response.set_cookie(LANG_COOKIE, lang, path="/admin", samesite="Lax", httponly=True)
    return response

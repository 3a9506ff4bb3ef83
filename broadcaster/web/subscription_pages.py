"""The subscription pages and JSON answers: the website's look, private headers, no scripts."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

from aiohttp import web

from broadcaster.channels.website import WebsiteOptions
from broadcaster.text.render import Templates
from broadcaster.text.strings import localized, text
from broadcaster.web.subscription_form import Fields
from broadcaster.workspace.models import DEFAULT_LOCALE, Workspace

# Token pages carry a credential in their URL: never cache them, never send it on as a
# Referer. No scripts and no outside resources; forms only post back to this site.
PRIVATE_HEADERS: Mapping[str, str] = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Robots-Tag": "noindex, nofollow",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
}
HTML_TYPE = "text/html"

_dumps = partial(json.dumps, ensure_ascii=False)


def root_of(request: web.Request) -> str:
    """The relative way back to the site root from the request's path (`../` per level)."""
    return "../" * max(0, request.path.count("/") - 1)


class Pages:
    """Renders `subscriptions/*.html` inside the website layout, in one locale."""

    def __init__(self, templates: Templates, workspace: Callable[[], Workspace]) -> None:
        self.templates = templates
        self.workspace = workspace

    def locales(self) -> tuple[str, ...]:
        """The locales a subscriber may choose: the workspace's, default first."""
        return self.workspace().locales

    def pick_locale(self, *candidates: str | None) -> str:
        """The first candidate the workspace is written in, else the default locale."""
        known = self.locales()
        return next((c for c in candidates if c and c in known), DEFAULT_LOCALE)

    def site_title(self, locale: str) -> str:
        """The website channel's title, else the subscription heading."""
        for channel in self.workspace().channels.values():
            if isinstance(channel.options, WebsiteOptions):
                return localized(channel.options.title, locale)
        return text("sub_heading", locale)

    def render(
        self,
        request: web.Request,
        template: str,
        *,
        locale: str,
        heading: str,
        status: int = 200,
        languages: Sequence[tuple[str, str]] | None = None,
        headers: Mapping[str, str] | None = None,
        **context: Any,
    ) -> web.Response:
        """A private HTML page in the website's layout.

        `languages` are (locale, href) links to the page in other languages; by default
        `?lang=` on the same URL (token pages), which keeps the token.
        """
        root = root_of(request)
        if languages is None:
            languages = [(loc, f"?lang={loc}") for loc in self.locales()]
        page = self.templates.render(
            f"subscriptions/{template}",
            locale=locale,
            lang=locale,
            section="subscriptions",
            root=root,
            site_title=self.site_title(locale),
            canonical=None,
            alternates=[],
            languages=languages,
            updated=None,
            heading=heading,
            **context,
        )
        return web.Response(
            text=page,
            status=status,
            content_type=HTML_TYPE,
            charset="utf-8",
            headers={**PRIVATE_HEADERS, **(headers or {})},
        )

    def message(
        self,
        request: web.Request,
        *,
        locale: str,
        heading: str,
        paragraphs: Sequence[str],
        links: Sequence[tuple[str, str]] = (),
        status: int = 200,
        notice: bool = False,
        languages: Sequence[tuple[str, str]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> web.Response:
        """A page that says one thing, with links onwards."""
        return self.render(
            request,
            "message.html",
            locale=locale,
            heading=heading,
            status=status,
            languages=languages,
            headers=headers,
            paragraphs=list(paragraphs),
            links=list(links),
            notice=notice,
        )

    def home_links(self, request: web.Request) -> list[tuple[str, str]]:
        """(locale, href) of the website's home page in each locale."""
        root = root_of(request)
        return [(loc, f"{root}{loc}/") for loc in self.locales()]

    def form_link(self, request: web.Request, locale: str) -> tuple[str, str]:
        """(href, text) of the subscribe form on the home page."""
        return f"{root_of(request)}{locale}/#subscribe", text("sub_to_form", locale)

    def pending(self, request: web.Request, as_json: bool, locale: str) -> web.Response:
        """ "Check your inbox": the one answer to every valid request (no enumeration)."""
        if as_json:
            body = {"status": "pending", "message": text("sub_pending", locale)}
            return json_answer(body, status=202)
        return self.message(
            request,
            locale=locale,
            heading=text("sub_pending_title", locale),
            paragraphs=[text("sub_pending", locale), text("sub_pending_more", locale)],
            links=[(f"{root_of(request)}{locale}/", text("site_home", locale))],
            languages=self.home_links(request),
        )

    def invalid(
        self,
        request: web.Request,
        as_json: bool,
        locale: str,
        fields: Fields,
        errors: dict[str, str],
    ) -> web.Response:
        """The subscribe form again with what was typed, or JSON errors by field."""
        if as_json:
            messages = {name: text(key, locale) for name, key in errors.items()}
            return json_answer({"errors": messages}, status=400)
        form = {
            "email": fields.email,
            "locale": fields.locale or locale,
            "topics": list(fields.topics),
            "frequency": fields.frequency,
        }
        return self.render(
            request,
            "subscribe.html",
            locale=locale,
            heading=text("sub_heading", locale),
            status=400,
            languages=self.home_links(request),
            form=form,
            errors=errors,
            topics=list(self.workspace().topics.values()),
            locales=list(self.locales()),
        )

    def refused(
        self, request: web.Request, as_json: bool, locale: str, status: int, key: str
    ) -> web.Response:
        """A body we will not read (too large, garbled)."""
        if as_json:
            return json_answer({"errors": {"body": text(key, locale)}}, status=status)
        return self.message(
            request,
            locale=locale,
            heading=text("sub_heading", locale),
            paragraphs=[text(key, locale)],
            links=[self.form_link(request, locale)],
            status=status,
            languages=self.home_links(request),
        )

    def too_many(self, request: web.Request, as_json: bool, locale: str, wait: int) -> web.Response:
        """429 with Retry-After (whole seconds)."""
        message = text("sub_too_many", locale).format(seconds=wait)
        headers = {"Retry-After": str(wait)}
        if as_json:
            body = {"errors": {"rate": message}, "retry_after": wait}
            return json_answer(body, status=429, headers=headers)
        return self.message(
            request,
            locale=locale,
            heading=text("sub_too_many_title", locale),
            paragraphs=[message],
            links=[self.form_link(request, locale)],
            status=429,
            headers=headers,
            languages=self.home_links(request),
        )


def json_answer(
    body: Mapping[str, Any], *, status: int, headers: Mapping[str, str] | None = None
) -> web.Response:
    """A JSON answer with the private headers; text stays readable (no \\u escapes)."""
    return web.json_response(
        body, status=status, dumps=_dumps, headers={**PRIVATE_HEADERS, **(headers or {})}
    )

"""The pages reached by a signed link from an email: confirm, unsubscribe, preferences, delete.

Each handler takes the `Subscriptions` it works for. A GET shows a page and never changes
anything; only a POST acts.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from aiohttp import web

from broadcaster.subscribers.api import Subscriber, SubscriberStatus
from broadcaster.text.strings import text
from broadcaster.web.subscription_form import (
    BodyTooLarge,
    Fields,
    UnreadableBody,
    check_preferences,
    parse_form,
    read_body,
    read_fields,
)
from broadcaster.web.subscription_pages import PRIVATE_HEADERS
from broadcaster.web.subscriptions import Subscriptions

# RFC 8058's body, urlencoded (`List-Unsubscribe=One-Click`) or as multipart/form-data.
ONE_CLICK = b"One-Click"


# --- /confirm/{token} --------------------------------------------------------------------


async def confirm_page(subs: Subscriptions, request: web.Request) -> web.Response:
    """A button that confirms; opening the link alone confirms nothing."""
    found = await subs.resolve(request, "confirm", subs.confirm_max_age)
    if isinstance(found, web.Response):
        return found
    locale = found.locale
    return subs.pages.render(
        request,
        "button.html",
        locale=locale,
        heading=text("sub_confirm_title", locale),
        paragraphs=[text("sub_confirm_text", locale)],
        action=subs.here(request),
        button=text("sub_confirm_button", locale),
        hidden=[],
        danger=False,
        links=[],
    )


async def confirm(subs: Subscriptions, request: web.Request) -> web.Response:
    """Confirm (idempotent) and link to the preferences."""
    found = await subs.resolve(request, "confirm", subs.confirm_max_age)
    if isinstance(found, web.Response):
        return found
    subscriber, locale = found.subscriber, found.locale
    if not await subs.store.confirm(subscriber.id, ip=request.remote):
        return subs.gone(request, locale)
    preferences = subs.link(request, "preferences", subscriber)
    return subs.pages.message(
        request,
        locale=locale,
        heading=text("sub_confirmed_title", locale),
        paragraphs=[text("sub_confirmed", locale)],
        links=[(preferences, text("sub_preferences_link", locale))],
        notice=True,
    )


# --- /unsubscribe/{token} ----------------------------------------------------------------


def _erased(subs: Subscriptions, request: web.Request) -> Callable[[str], web.Response]:
    """The answer to an unsubscribe link of a subscriber who asked to be deleted."""
    return lambda locale: _unsubscribed(subs, request, locale, "sub_erased")


async def unsubscribe_page(subs: Subscriptions, request: web.Request) -> web.Response:
    """A button that unsubscribes: the same POST a mail client's one-click sends."""
    found = await subs.resolve(request, "unsubscribe", erased=_erased(subs, request))
    if isinstance(found, web.Response):
        return found
    locale = found.locale
    if found.subscriber.status == SubscriberStatus.UNSUBSCRIBED:
        return _unsubscribed(subs, request, locale, "sub_already_unsubscribed")
    preferences = subs.link(request, "preferences", found.subscriber)
    return subs.pages.render(
        request,
        "button.html",
        locale=locale,
        heading=text("sub_unsubscribe_title", locale),
        paragraphs=[text("sub_unsubscribe_text", locale)],
        action=subs.here(request),
        button=text("sub_unsubscribe_button", locale),
        hidden=[("List-Unsubscribe", "One-Click")],
        danger=False,
        links=[(preferences, text("sub_preferences_link", locale))],
    )


async def unsubscribe(subs: Subscriptions, request: web.Request) -> web.Response:
    """RFC 8058 one-click: 200 with a page, no redirect, no cookie; idempotent.

    A deleted subscriber's link answers 200 too: the address is on no list any more,
    which is what the one-click asked for (mail clients may retry it).
    """
    found = await subs.resolve(request, "unsubscribe", erased=_erased(subs, request))
    if isinstance(found, web.Response):
        return found
    try:
        body = await read_body(request)
    except BodyTooLarge:
        body = b""
    how = "one-click" if ONE_CLICK in body else "web"
    if not await subs.store.unsubscribe(found.subscriber.id, ip=request.remote, how=how):
        return subs.gone(request, found.locale)
    return _unsubscribed(subs, request, found.locale, "sub_unsubscribed")


def _unsubscribed(subs: Subscriptions, request: web.Request, locale: str, key: str) -> web.Response:
    return subs.pages.message(
        request,
        locale=locale,
        heading=text("sub_unsubscribed_title", locale),
        paragraphs=[text(key, locale), text("sub_resubscribe", locale)],
        links=[subs.pages.form_link(request, locale)],
        notice=True,
    )


# --- /preferences/{token} ----------------------------------------------------------------


def _preferences_form(
    subs: Subscriptions,
    request: web.Request,
    subscriber: Subscriber,
    locale: str,
    *,
    fields: Fields | None = None,
    errors: dict[str, str] | None = None,
    saved: bool = False,
) -> web.Response:
    if fields is None:
        form = {
            "locale": subscriber.locale,
            "topics": list(subscriber.topics),
            "frequency": str(subscriber.frequency),
        }
    else:
        form = {
            "locale": fields.locale,
            "topics": list(fields.topics),
            "frequency": fields.frequency,
        }
    return subs.pages.render(
        request,
        "preferences.html",
        locale=locale,
        heading=text("sub_preferences_title", locale),
        status=400 if errors else 200,
        email=subscriber.email,
        subscriber_status=str(subscriber.status),
        form=form,
        errors=errors or {},
        saved=saved,
        topics=list(subs.workspace().topics.values()),
        locales=list(subs.pages.locales()),
        action=subs.here(request),
        data_href=subs.here(request, "/data"),
        delete_href=subs.here(request, "/delete"),
    )


async def preferences_page(subs: Subscriptions, request: web.Request) -> web.Response:
    """The subscriber's topics, language and frequency as a form, with data and delete links."""
    found = await subs.resolve(request, "preferences")
    if isinstance(found, web.Response):
        return found
    return _preferences_form(subs, request, found.subscriber, found.locale)


async def update_preferences(subs: Subscriptions, request: web.Request) -> web.Response:
    """Save new preferences (checked like a subscribe request) and show them."""
    found = await subs.resolve(request, "preferences")
    if isinstance(found, web.Response):
        return found
    subscriber, locale = found.subscriber, found.locale
    try:
        fields = await read_fields(request)
    except (BodyTooLarge, UnreadableBody) as problem:
        too_large = isinstance(problem, BodyTooLarge)
        key = problem.reason if isinstance(problem, UnreadableBody) else "sub_error_too_large"
        return subs.pages.message(
            request,
            locale=locale,
            heading=text("sub_preferences_title", locale),
            paragraphs=[text(key, locale)],
            links=[(subs.here(request), text("sub_preferences_link", locale))],
            status=413 if too_large else 400,
        )
    chosen, errors = check_preferences(
        fields, topics=subs.workspace().topics, locales=subs.pages.locales()
    )
    if chosen is None:
        return _preferences_form(subs, request, subscriber, locale, fields=fields, errors=errors)
    saved = await subs.store.update_preferences(
        subscriber.id,
        topics=chosen.topics,
        locale=chosen.locale,
        frequency=chosen.frequency,
        ip=request.remote,
    )
    current = await subs.store.get(subscriber.id) if saved else None
    if current is None:
        return subs.gone(request, locale)
    locale = subs.pages.pick_locale(request.query.get("lang"), current.locale)
    return _preferences_form(subs, request, current, locale, saved=True)


async def download_data(subs: Subscriptions, request: web.Request) -> web.Response:
    """Everything kept about the subscriber, as a JSON file to save."""
    found = await subs.resolve(request, "preferences")
    if isinstance(found, web.Response):
        return found
    data = await subs.store.export_data(found.subscriber.id)
    if data is None:
        return subs.gone(request, found.locale)
    body = json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True, default=str)
    return web.Response(
        text=body + "\n",
        content_type="application/json",
        charset="utf-8",
        headers={
            **PRIVATE_HEADERS,
            "Content-Disposition": 'attachment; filename="my-subscription-data.json"',
        },
    )


async def delete_page(subs: Subscriptions, request: web.Request) -> web.Response:
    """The confirmation step before erasing: what will go, a button, a way back."""
    found = await subs.resolve(request, "preferences")
    if isinstance(found, web.Response):
        return found
    return _delete_confirmation(subs, request, found.subscriber, found.locale)


def _delete_confirmation(
    subs: Subscriptions, request: web.Request, subscriber: Subscriber, locale: str
) -> web.Response:
    return subs.pages.render(
        request,
        "button.html",
        locale=locale,
        heading=text("sub_delete_title", locale),
        paragraphs=[text("sub_delete_text", locale)],
        action=subs.here(request),
        button=text("sub_delete_button", locale),
        hidden=[("confirm", "yes")],
        danger=True,
        links=[(subs.link(request, "preferences", subscriber), text("sub_cancel", locale))],
    )


async def delete(subs: Subscriptions, request: web.Request) -> web.Response:
    """Erase the subscriber when the confirmation step was passed; else show that step."""
    found = await subs.resolve(request, "preferences")
    if isinstance(found, web.Response):
        return found
    subscriber, locale = found.subscriber, found.locale
    try:
        pairs, _ = parse_form(await read_body(request))
    except BodyTooLarge:
        pairs = []
    if ("confirm", "yes") not in pairs:
        return _delete_confirmation(subs, request, subscriber, locale)
    if not await subs.store.delete(subscriber.id):
        return subs.gone(request, locale)
    return subs.pages.message(
        request,
        locale=locale,
        heading=text("sub_deleted_title", locale),
        paragraphs=[text("sub_deleted", locale)],
        links=[subs.pages.form_link(request, locale)],
        notice=True,
    )

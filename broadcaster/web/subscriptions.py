"""Public subscription routes: subscribe (double opt-in), confirm, unsubscribe, preferences.

Routes (shared/DESIGN.md section 4): `POST /subscribe`; `GET/POST /confirm/{token}`;
`GET/POST /unsubscribe/{token}` (RFC 8058 one-click: 200, no redirect, no cookie);
`GET/POST /preferences/{token}`, `GET /preferences/{token}/data`,
`GET/POST /preferences/{token}/delete`. A GET never changes anything: mail scanners open
links. The token in the URL is the credential (no cookies, so no CSRF to defend against).

The per-IP limit keys on `request.remote` (an IPv6 client by its /64: web/ratelimit.py).
Behind a reverse proxy, set BROADCASTER_TRUSTED_PROXIES to its address so that is the
visitor's (web/forwarded.py); without it every visitor shares the proxy's bucket.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta

from aiohttp import web

from broadcaster.subscribers.api import Subscriber, SubscriberStore, TokenPurpose, Tokens
from broadcaster.subscribers.confirmations import Confirmations
from broadcaster.text.render import Templates
from broadcaster.text.strings import text
from broadcaster.web.ratelimit import Rate, RateLimiter, client_key
from broadcaster.web.subscription_form import (
    BodyTooLarge,
    Fields,
    UnreadableBody,
    check_subscribe,
    read_fields,
    wants_json,
)
from broadcaster.web.subscription_pages import Pages, root_of
from broadcaster.workspace.models import Workspace

log = logging.getLogger(__name__)

CONFIRM_MAX_AGE = timedelta(days=7)
PER_IP = Rate(burst=5, period=60.0)
PER_ADDRESS = Rate(burst=3, period=3600.0)
MAX_TOKEN = 512
CLOSE_TIMEOUT = 10.0
# A max_age no token reaches: reading with it tells an expired token from a forged one.
FOREVER = 100 * 365 * 86400.0


@dataclass(frozen=True)
class Limits:
    """Requests allowed per client IP and per address, in memory, per process."""

    per_ip: Rate = PER_IP
    per_address: Rate = PER_ADDRESS


@dataclass(frozen=True)
class Resolved:
    """The subscriber a genuine token stands for, and the language to answer in."""

    subscriber: Subscriber
    locale: str


class Subscriptions:
    """The subscription pages over the service's subscriber store, token signer and
    confirmation emails (one of each per process)."""

    def __init__(
        self,
        *,
        store: SubscriberStore,
        tokens: Tokens,
        confirmations: Confirmations,
        workspace: Callable[[], Workspace],
        base_url: str,
        templates: Templates,
        limits: Limits = Limits(),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.tokens = tokens
        self.workspace = workspace
        self.base_url = base_url.rstrip("/")
        self.pages = Pages(templates, workspace)
        self.per_ip = RateLimiter(limits.per_ip, clock=clock)
        self.per_address = RateLimiter(limits.per_address, clock=clock)
        self.confirm_max_age = CONFIRM_MAX_AGE
        self.confirmations = confirmations
        self._mailing: set[asyncio.Task[bool]] = set()

    # --- lifetime ------------------------------------------------------------------------

    async def settle(self) -> None:
        """Wait until every confirmation email handed to the mailer has been sent (or failed)."""
        while self._mailing:
            await asyncio.gather(*self._mailing, return_exceptions=True)

    async def close(self) -> None:
        """Let confirmation emails in flight finish, for at most CLOSE_TIMEOUT seconds."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(CLOSE_TIMEOUT):
                await self.settle()
        for task in self._mailing:
            task.cancel()
        await asyncio.gather(*self._mailing, return_exceptions=True)

    # --- POST /subscribe -----------------------------------------------------------------

    async def subscribe(self, request: web.Request) -> web.Response:
        """Ask for a subscription; the answer never tells whether the address is known."""
        as_json = wants_json(request)
        fields: Fields | None = None
        problem: tuple[int, str] | None = None
        try:
            fields = await read_fields(request)
        except BodyTooLarge:
            problem = (413, "sub_error_too_large")
        except UnreadableBody as unreadable:
            problem = (400, unreadable.reason)
        # Answers are in the language the form was in, errors included.
        locale = self.pages.pick_locale(
            fields.locale if fields else None, request.query.get("lang")
        )
        wait = self.per_ip.take(client_key(request.remote))
        if wait:
            return self.pages.too_many(request, as_json, locale, wait)
        if fields is None:
            status, key = problem or (400, "sub_error_body")
            return self.pages.refused(request, as_json, locale, status, key)
        if fields.honeypot:
            log.info("subscribe: the honeypot field was filled in; nothing stored")
            return self.pages.pending(request, as_json, locale)
        topics = self.workspace().topics
        choice, errors = check_subscribe(fields, topics=topics, locales=self.pages.locales())
        if choice is None:
            return self.pages.invalid(request, as_json, locale, fields, errors)
        wait = self.per_address.take(choice.email.casefold())
        if wait:
            return self.pages.too_many(request, as_json, locale, wait)
        wanted = choice.preferences
        try:
            outcome = await self.store.request(
                choice.email,
                locale=wanted.locale,
                topics=wanted.topics,
                frequency=wanted.frequency,
                ip=request.remote,
                form="json" if as_json else "web",
            )
        except ValueError:  # the store's own address check is stricter than ours
            errors = {"email": "sub_error_email"}
            return self.pages.invalid(request, as_json, locale, fields, errors)
        if outcome.send_confirmation and outcome.subscriber_id is not None:
            # Sent in the background: a known address must not answer slower or faster.
            # If it fails (relay down, process killed), the service's sweep sends it.
            task = asyncio.create_task(self.confirmations.send_now(outcome.subscriber_id))
            self._mailing.add(task)
            task.add_done_callback(self._mailing.discard)
        return self.pages.pending(request, as_json, locale)

    # --- tokens --------------------------------------------------------------------------

    async def resolve(
        self,
        request: web.Request,
        purpose: TokenPurpose,
        max_age: timedelta | None = None,
        *,
        erased: Callable[[str], web.Response] | None = None,
    ) -> Resolved | web.Response:
        """The subscriber a token in the URL stands for, or the page explaining why not.

        `erased(locale)` answers a genuine token whose subscriber was deleted ("delete
        me"), when given; otherwise that is an invalid link like any other.
        """
        token = request.match_info["token"]
        seconds = max_age.total_seconds() if max_age is not None else None
        found = self.tokens.read(token, purpose, seconds) if len(token) <= MAX_TOKEN else None
        subscriber = await self.store.get(found[0]) if found is not None else None
        if found is not None and subscriber is None and erased is not None:
            return erased(self.pages.pick_locale(request.query.get("lang")))
        if found is None or subscriber is None or subscriber.token_version != found[1]:
            locale = self.pages.pick_locale(request.query.get("lang"))
            expired = (
                found is None
                and seconds is not None
                and len(token) <= MAX_TOKEN
                and self.tokens.read(token, purpose, FOREVER) is not None
            )
            key = "sub_expired" if expired else "sub_invalid"
            return self.pages.message(
                request,
                locale=locale,
                heading=text(f"{key}_title", locale),
                paragraphs=[text(key, locale)],
                links=[self.pages.form_link(request, locale)],
                status=410 if expired else 400,
            )
        locale = self.pages.pick_locale(request.query.get("lang"), subscriber.locale)
        return Resolved(subscriber, locale)

    def link(self, request: web.Request, purpose: TokenPurpose, subscriber: Subscriber) -> str:
        """A relative link to another token page of the same subscriber."""
        token = self.tokens.make(purpose, subscriber.id, subscriber.token_version)
        return f"{root_of(request)}{purpose}/{token}"

    def here(self, request: web.Request, suffix: str = "") -> str:
        """This page's last path segment plus `suffix` (a relative URL), keeping `?lang=`."""
        last = request.path.rsplit("/", 1)[-1] + suffix
        lang = request.query.get("lang")
        return f"{last}?lang={lang}" if lang in self.pages.locales() else last

    def gone(self, request: web.Request, locale: str) -> web.Response:
        """The subscriber went away between reading the token and acting on it."""
        return self.pages.message(
            request,
            locale=locale,
            heading=text("sub_invalid_title", locale),
            paragraphs=[text("sub_invalid", locale)],
            links=[self.pages.form_link(request, locale)],
            status=400,
        )


SUBSCRIPTIONS = web.AppKey("subscriptions", Subscriptions)


@contextlib.asynccontextmanager
async def open_subscriptions(
    *,
    store: SubscriberStore,
    tokens: Tokens,
    confirmations: Confirmations,
    workspace: Callable[[], Workspace],
    base_url: str,
    templates: Templates,
    limits: Limits = Limits(),
) -> AsyncIterator[Subscriptions]:
    """Subscriptions over the parts the service opened; confirmations in flight finish on close."""
    subscriptions = Subscriptions(
        store=store,
        tokens=tokens,
        confirmations=confirmations,
        workspace=workspace,
        base_url=base_url,
        templates=templates,
        limits=limits,
    )
    try:
        yield subscriptions
    finally:
        await subscriptions.close()

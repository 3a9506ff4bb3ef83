"""The app `broadcaster serve` runs, on a copy of the example workspace with a SQLite file.

The subscription pages run over the real subscriber store and signed tokens; only the
confirmation mailer is a fake that records what it was asked to send (the SMTP side is
tested with the mail engine).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import lxml.html
import pytest
import pytest_asyncio
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient, TestServer
from lxml.html import HtmlElement

from broadcaster.service import make_app
from broadcaster.settings import Settings
from broadcaster.subscribers.api import Subscriber, SubscriberStatus, TokenPurpose
from broadcaster.web.ratelimit import Rate
from broadcaster.web.subscriptions import SUBSCRIPTIONS, Limits, Subscriptions
from tests.conftest import copy_workspace

BASE_URL = "http://broadcaster.test"
SECRET = "test-secret-key-that-is-long-enough-0123456789"
FORM = "application/x-www-form-urlencoded"
# Most tests send more than the real limits allow; the rate-limit tests use the real ones.
GENEROUS = Limits(per_ip=Rate(1000, 60.0), per_address=Rate(1000, 60.0))
TOPIC = "online-services"

Client = TestClient[web.Request, web.Application]
Fields = Mapping[str, str | Iterable[str]]


@dataclass(frozen=True)
class Sent:
    subscriber_id: int
    email: str
    locale: str
    confirm_url: str


@dataclass
class RecordingMailer:
    """A ConfirmationMailer that only records."""

    sent: list[Sent] = field(default_factory=list)

    async def send_confirmation(
        self, subscriber_id: int, email: str, locale: str, confirm_url: str
    ) -> None:
        self.sent.append(Sent(subscriber_id, email, locale, confirm_url))


def settings_for(root: Path, environ: Mapping[str, str] | None = None) -> Settings:
    """Settings as `serve` builds them from this environment (nothing from os.environ)."""
    return Settings.from_environ(
        root,
        {
            "BROADCASTER_DATABASE_URL": f"sqlite+aiosqlite:///{root / 'var/db.sqlite'}",
            "BROADCASTER_BASE_URL": BASE_URL,
            "BROADCASTER_SECRET_KEY": SECRET,
            "BROADCASTER_SHUTDOWN_TIMEOUT": "5",
            **(environ or {}),
        },
    )


def form_body(fields: Fields) -> str:
    """`fields` urlencoded as a browser sends them (a list value repeats the name)."""
    pairs: list[tuple[str, str]] = []
    for name, value in fields.items():
        if isinstance(value, str):
            pairs.append((name, value))
        else:
            pairs.extend((name, item) for item in value)
    return urlencode(pairs)


def page(body: str) -> HtmlElement:
    return lxml.html.document_fromstring(body)


def heading(doc: HtmlElement) -> str:
    """The page's h1 as a reader sees it."""
    return " ".join(doc.xpath("string(//h1)").split())


def main_text(doc: HtmlElement) -> str:
    return " ".join(doc.xpath("string(//main)").split())


def path_of(url: str) -> str:
    return urlsplit(url).path


@dataclass
class Site:
    """A running app and what a test needs around it."""

    client: Client
    mailer: RecordingMailer
    settings: Settings

    @property
    def subscriptions(self) -> Subscriptions:
        app = self.client.app
        assert app is not None
        return app[SUBSCRIPTIONS]

    async def subscribe(self, fields: Fields, *, lang: str | None = None) -> ClientResponse:
        """POST the subscribe form as a browser would."""
        path = f"/subscribe?lang={lang}" if lang else "/subscribe"
        return await self.client.post(path, data=form_body(fields), headers={"Content-Type": FORM})

    async def sent_to(self, email: str) -> list[Sent]:
        """The confirmation emails handed to the mailer for `email` so far."""
        await self.subscriptions.settle()
        return [sent for sent in self.mailer.sent if sent.email == email]

    async def confirm_path(self, email: str) -> str:
        """The path of the newest confirmation link mailed to `email`."""
        sent = await self.sent_to(email)
        assert sent, f"no confirmation email to {email}"
        return path_of(sent[-1].confirm_url)

    async def subscriber(self, email: str) -> Subscriber | None:
        """The subscriber a confirmation email went to, as the store has it now."""
        sent = await self.sent_to(email)
        assert sent, f"no confirmation email to {email}"
        return await self.subscriptions.store.get(sent[-1].subscriber_id)

    def link(
        self, purpose: TokenPurpose, subscriber: Subscriber, version: int | None = None
    ) -> str:
        """A path with a genuine token, as the mail engine puts in every message."""
        version = subscriber.token_version if version is None else version
        return f"/{purpose}/{self.subscriptions.tokens.make(purpose, subscriber.id, version)}"


@contextlib.asynccontextmanager
async def running(
    workspace: Path, limits: Limits = GENEROUS, environ: Mapping[str, str] | None = None
) -> AsyncIterator[Site]:
    """The app `serve` runs on `workspace`, behind a test client, with a recording mailer."""
    settings = settings_for(workspace, environ)
    mailer = RecordingMailer()
    app = make_app(settings, mailer=mailer, limits=limits)
    async with TestClient(TestServer(app)) as client:
        yield Site(client, mailer, settings)


# Starting the service (migrations, the site build, workers) takes about a second, so the
# tests of a module share one app, each with its own addresses. Tests that need a fresh
# app (the real rate limits) use `start`.
@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def site(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Site]:
    async with running(copy_workspace(tmp_path_factory.mktemp("web") / "ws")) as site:
        yield site


Start = Callable[[Limits], contextlib.AbstractAsyncContextManager[Site]]


@pytest.fixture
def start(tmp_path: Path) -> Start:
    """A fresh app on a fresh workspace copy, with the given limits."""
    return lambda limits: running(copy_workspace(tmp_path / "ws"), limits)


async def subscribed(site: Site, email: str, locale: str = "vi") -> Subscriber:
    """Subscribe `email` through the form; the pending subscriber."""
    response = await site.subscribe(
        {"email": email, "locale": locale, "topics": [TOPIC], "frequency": "immediate"}
    )
    assert response.status == 200, await response.text()
    subscriber = await site.subscriber(email)
    assert subscriber is not None
    return subscriber


async def confirmed(site: Site, email: str, locale: str = "vi") -> Subscriber:
    """Subscribe and confirm `email` through the pages; the confirmed subscriber."""
    await subscribed(site, email, locale)
    response = await site.client.post(await site.confirm_path(email))
    assert response.status == 200, await response.text()
    subscriber = await site.subscriber(email)
    assert subscriber is not None
    return subscriber


async def status_of(site: Site, subscriber_id: int) -> SubscriberStatus | None:
    """The subscriber's status now, None once deleted."""
    subscriber = await site.subscriptions.store.get(subscriber_id)
    return None if subscriber is None else subscriber.status

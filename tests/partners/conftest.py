"""A media partner as a real aiohttp server on port 0 that checks every request's signature
with the `standardwebhooks` package, and a service on a workspace that may reach it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from broadcaster.service import Service, open_service
from broadcaster.settings import Settings
from broadcaster.store.testing import TEST_DATABASE_ENV, postgres_fresh_database, postgres_url

BASE_URL = "http://broadcaster.test"
# A test channel: loopback allowed, waits of a fraction of a second instead of hours.
TEST_CHANNEL = """\
type: webhook
timeout: {timeout}
retry:
  schedule: [0.2s, 0.2s, 0.2s]
allow_networks: [127.0.0.0/8]
"""


@dataclass
class Received:
    """One request the partner got, and whether its signature checked out."""

    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool
    error: str | None

    @property
    def event(self) -> dict[str, Any]:
        document = json.loads(self.body)
        assert isinstance(document, dict)
        return document


Answer = int | str  # a status code, "timeout", or "redirect"


@dataclass
class PartnerServer:
    """Endpoints at /<name>; each answers from its queue of answers, then 200."""

    secrets: dict[str, list[str]] = field(default_factory=dict)
    answers: dict[str, list[Answer]] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    port: int = 0
    hold: float = 0

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"

    def at(self, name: str) -> list[Received]:
        return [r for r in self.received if r.path == f"/{name}"]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        name = request.path.strip("/")
        body = await request.read()
        headers = dict(request.headers)
        verified, error = False, None
        for secret in self.secrets.get(name, []):
            try:
                Webhook(secret).verify(body, headers)
            except WebhookVerificationError as exc:
                error = str(exc)
            else:
                verified, error = True, None
                break
        self.received.append(Received(request.path, headers, body, verified, error))
        queue = self.answers.get(name, [])
        answer = queue.pop(0) if queue else 200
        if answer == "timeout":
            await asyncio.sleep(self.hold)
            return web.Response(status=200)
        if answer == "redirect":
            raise web.HTTPMovedPermanently(location=f"http://127.0.0.1:{self.port}/elsewhere")
        assert isinstance(answer, int)
        if answer == 429:
            return web.Response(status=429, headers={"Retry-After": "1"})
        return web.Response(status=answer, text="ok" if answer < 300 else "no")


@pytest_asyncio.fixture
async def partner_server() -> AsyncIterator[PartnerServer]:
    server = PartnerServer()
    app = web.Application()
    app.router.add_route("POST", "/{name:.*}", server.handle)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server.port = runner.addresses[0][1]
    try:
        yield server
    finally:
        await runner.cleanup()


def use_test_channel(root: Path, timeout: float = 2) -> None:
    """channels/partners.yaml with loopback allowed and sub-second retry waits."""
    text = TEST_CHANNEL.format(timeout=timeout)
    (root / "channels" / "partners.yaml").write_text(text, encoding="utf-8")


def settings_for(root: Path, database_url: str) -> Settings:
    environ = {
        "BROADCASTER_DATABASE_URL": database_url,
        "BROADCASTER_BASE_URL": BASE_URL,
        "BROADCASTER_SHUTDOWN_TIMEOUT": "5",
        "BROADCASTER_SECRET_KEY": "test-secret-key-test-secret-key-0123456789",
    }
    return Settings.from_environ(root, environ=environ)


@pytest_asyncio.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest, workspace: Path) -> AsyncIterator[str]:
    """A SQLite file in the workspace, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{workspace / 'var/db.sqlite'}"
        return
    url = postgres_url()
    if url is None:
        pytest.skip(f"{TEST_DATABASE_ENV} is not set, e.g. postgresql+asyncpg://postgres@/test")
    async with postgres_fresh_database(url) as fresh:
        yield fresh


@pytest_asyncio.fixture
async def service(workspace: Path, database_url: str) -> AsyncIterator[Service]:
    """The service (no scheduler, no background workers) with the test webhook channel."""
    use_test_channel(workspace)
    (workspace / "var").mkdir(exist_ok=True)
    async with open_service(
        settings_for(workspace, database_url), schedule=False, deliver=False
    ) as svc:
        yield svc


async def deliver_until(
    service: Service, done: Callable[[], bool] | Callable[[], Awaitable[bool]], seconds: float = 10
) -> None:
    """Run the workers on everything due, again and again, until `done()` or time is up."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        await service.workers.run_until_idle("test")
        result = done()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("not done in time")
        await asyncio.sleep(0.05)


async def add_partner(service: Service, server: PartnerServer, name: str, **options: Any) -> str:
    """Register an endpoint of `server` and tell the server its secret; returns the secret."""
    _, secret = await service.partners.add(name, server.url(name), **options)
    server.secrets[name] = [secret]
    return secret

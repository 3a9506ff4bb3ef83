"""Stand-ins for the Facebook Graph API and the Zalo OA Open API (aiohttp servers on port 0)
that check the token and answer with the platforms' documented shapes and error codes, and
a service on a workspace with one `facebook` and one `zalo` channel pointing at them."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
import pytest_asyncio
from aiohttp import web

from broadcaster.service import Service, open_service
from broadcaster.settings import Settings
from broadcaster.store.testing import TEST_DATABASE_ENV, postgres_fresh_database, postgres_url

BASE_URL = "http://broadcaster.test"
PAGE_ID = "104729318263915"  # a made-up page id
OA_ID = "579745863508352884"  # a made-up OA id
PAGE_TOKEN = "EAAB-sample-page-token"
OA_TOKEN = "sample-oa-access-token"
GRAPH_VERSION = "v21.0"

FACEBOOK_CHANNEL = """\
# The office's Facebook page (a stand-in of the Graph API in tests).
type: facebook
page_id: "{page}"
token: ${{FB_PAGE_TOKEN}}
api_base: {base}
api_version: {version}
locale: vi
topics: [online-services, covid-19-measures]
tags: {{online-services: DichVuCongTrucTuyen}}
timeout: 5
"""

ZALO_CHANNEL = """\
type: zalo
oa_id: "{oa}"
token: ${{ZALO_OA_TOKEN}}
api_base: {base}
locale: vi
cover: https://broadcaster.test/cover.png
timeout: 5
"""


@dataclass
class Seen:
    """One request a stand-in received."""

    method: str
    path: str
    headers: dict[str, str]
    form: dict[str, str] | None
    json: Any


Answer = tuple[int, dict[str, Any], dict[str, str]]  # status, JSON body, headers


@dataclass
class StandIn:
    """What both stand-ins share: the requests seen and answers queued for the next ones."""

    seen: list[Seen] = field(default_factory=list)
    queued: list[Answer] = field(default_factory=list)
    port: int = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def next_answer(self) -> Answer | None:
        return self.queued.pop(0) if self.queued else None


@dataclass
class GraphStandIn(StandIn):
    """The Graph API as a page sees it: /{page}/feed, /{page}/photos, /{post} edit and delete."""

    token: str = PAGE_TOKEN
    posts: dict[str, str] = field(default_factory=dict)  # post id -> message
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1001))

    async def handle(self, request: web.Request) -> web.Response:
        form = None
        if request.method == "POST":
            form = {key: str(value) for key, value in (await request.post()).items()}
        seen = Seen(request.method, request.path, dict(request.headers), form, None)
        self.seen.append(seen)
        queued = self.next_answer()
        if queued is not None:
            status, body, headers = queued
            return web.json_response(body, status=status, headers=headers)
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response(graph_error(190, "Invalid OAuth access token."), status=400)
        path = request.path.removeprefix(f"/{GRAPH_VERSION}/")
        if request.method == "POST" and path == f"{PAGE_ID}/feed":
            post_id = f"{PAGE_ID}_{next(self.ids)}"
            self.posts[post_id] = str(form and form["message"])
            return web.json_response({"id": post_id})
        if request.method == "POST" and path == f"{PAGE_ID}/photos":
            number = next(self.ids)
            self.posts[f"{PAGE_ID}_{number}"] = str(form and form["caption"])
            return web.json_response({"id": str(number), "post_id": f"{PAGE_ID}_{number}"})
        if path in self.posts and request.method == "POST":
            self.posts[path] = str(form and form["message"])
            return web.json_response({"success": True})
        if path in self.posts and request.method == "DELETE":
            del self.posts[path]
            return web.json_response({"success": True})
        message = f"Unsupported {request.method} request. Object with ID '{path}' does not exist"
        return web.json_response(graph_error(100, message, subcode=33), status=400)


def graph_error(code: int, message: str, subcode: int | None = None) -> dict[str, Any]:
    """An error answer as the Graph API writes it."""
    error: dict[str, Any] = {
        "message": message,
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": "AbCdEfGhIjK",
    }
    if subcode is not None:
        error["error_subcode"] = subcode
    return {"error": error}


@dataclass
class ZaloStandIn(StandIn):
    """The Zalo OA Open API's article and broadcast endpoints (v2.0)."""

    token: str = OA_TOKEN
    # Answers for the next requests to a path ("oa/message"), before anything else.
    by_path: dict[str, list[Answer]] = field(default_factory=dict)
    articles: dict[str, dict[str, Any]] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)  # verify token -> article id
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def handle(self, request: web.Request) -> web.Response:
        payload = await request.json()
        self.seen.append(Seen(request.method, request.path, dict(request.headers), None, payload))
        path = request.path.removeprefix("/v2.0/")
        queued = self.next_answer() or (
            self.by_path[path].pop(0) if self.by_path.get(path) else None
        )
        if queued is not None:
            status, body, headers = queued
            return web.json_response(body, status=status, headers=headers)
        if request.headers.get("access_token") != self.token:
            return web.json_response({"error": -216, "message": "Access token is invalid"})
        number = next(self.ids)
        if path == "article/create":
            article_id = f"a{number:04d}"
            self.articles[article_id] = payload
            self.tokens[f"t{number}"] = article_id
            return ok({"token": f"t{number}"})
        if path == "article/update":
            self.articles[payload["id"]] = payload
            self.tokens[f"t{number}"] = payload["id"]
            return ok({"token": f"t{number}"})
        if path == "article/verify":
            return ok({"id": self.tokens[payload["token"]]})
        if path == "article/remove":
            self.articles.pop(payload["id"])
            return ok({})
        if path == "oa/message":
            return ok({"message_id": f"m{number}"})
        return web.json_response({"error": -201, "message": "Parameters invalid"})


def ok(data: dict[str, Any]) -> web.Response:
    return web.json_response({"error": 0, "message": "Success", "data": data})


async def serve(handler: Callable[[web.Request], Awaitable[web.Response]]) -> web.AppRunner:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner


S = TypeVar("S", GraphStandIn, ZaloStandIn)


@contextlib.asynccontextmanager
async def running(stand_in: S) -> AsyncIterator[S]:
    """`stand_in` answering on a port of its own until the block ends."""
    runner = await serve(stand_in.handle)
    stand_in.port = runner.addresses[0][1]
    try:
        yield stand_in
    finally:
        await runner.cleanup()


@pytest_asyncio.fixture
async def graph() -> AsyncIterator[GraphStandIn]:
    async with running(GraphStandIn()) as stand_in:
        yield stand_in


@pytest_asyncio.fixture
async def zalo() -> AsyncIterator[ZaloStandIn]:
    async with running(ZaloStandIn()) as stand_in:
        yield stand_in


def add_channels(root: Path, graph: GraphStandIn, zalo: ZaloStandIn) -> None:
    """channels/facebook-page.yaml and channels/zalo-oa.yaml, pointing at the stand-ins."""
    channels = root / "channels"
    (channels / "facebook-page.yaml").write_text(
        FACEBOOK_CHANNEL.format(page=PAGE_ID, base=graph.base, version=GRAPH_VERSION),
        encoding="utf-8",
    )
    (channels / "zalo-oa.yaml").write_text(
        ZALO_CHANNEL.format(oa=OA_ID, base=zalo.base), encoding="utf-8"
    )


def settings_for(root: Path, **environ: str) -> Settings:
    return Settings.from_environ(
        root,
        {
            "BROADCASTER_DATABASE_URL": f"sqlite+aiosqlite:///{root / 'var/db.sqlite'}",
            "BROADCASTER_BASE_URL": BASE_URL,
            "BROADCASTER_SHUTDOWN_TIMEOUT": "5",
            "BROADCASTER_SECRET_KEY": "test-secret-key-test-secret-key-0123456789",
            "FB_PAGE_TOKEN": PAGE_TOKEN,
            "ZALO_OA_TOKEN": OA_TOKEN,
            **environ,
        },
    )


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
async def service(
    workspace: Path, database_url: str, graph: GraphStandIn, zalo: ZaloStandIn
) -> AsyncIterator[Service]:
    """The service (no scheduler, no background workers) with both fan-page channels."""
    add_channels(workspace, graph, zalo)
    (workspace / "var").mkdir(exist_ok=True)
    settings = settings_for(workspace, BROADCASTER_DATABASE_URL=database_url)
    async with open_service(settings, schedule=False, deliver=False) as svc:
        yield svc


async def deliver_all(service: Service) -> None:
    """Deliver everything due now."""
    await service.workers.run_until_idle("test")
    await asyncio.sleep(0)

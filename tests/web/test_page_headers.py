"""Every public page carries a Content-Security-Policy and cannot be framed, but the embed
widget, which other portals put in an iframe; the static fast path sends the same headers
as aiohttp. Real HTTP: the app `serve` runs, behind aiohttp alone and behind the fast path
(raw sockets)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from aiohttp import web

from broadcaster.cli.operations import publish_now
from broadcaster.service import make_app
from broadcaster.site.fastpath import FastPath
from broadcaster.web.app import _FastSite, _other_routes
from broadcaster.web.keys import STATIC
from tests.conftest import copy_workspace
from tests.web.conftest import settings_for

pytestmark = pytest.mark.asyncio(loop_scope="module")

NOT_FRAMEABLE = ["/", "/vi/", "/en/", "/vi/support-contacts/", "/vi/contacts/", "/en/archive/"]
FRAMEABLE = ["/embed/vi.html", "/embed/en.html"]
SECURITY = ("content-security-policy", "x-frame-options")


class Serving:
    """The app behind aiohttp alone (`plain`) and behind the fast path (`fast`)."""

    def __init__(self, plain: int, fast: int, handed_over: list[int]) -> None:
        self.plain = plain
        self.fast = fast
        self.handed_over = handed_over


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def serving(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Serving]:
    workspace = copy_workspace(tmp_path_factory.mktemp("headers") / "ws")
    settings = settings_for(workspace)
    await publish_now(settings, ["support-contacts"], ["website"], wait=True)
    app = make_app(settings)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        assert runner.server is not None
        server = runner.server
        handed_over: list[int] = []

        def fallback() -> asyncio.BaseProtocol:
            handed_over.append(1)
            return server()

        reserved = _other_routes(app, app[STATIC])
        assert reserved is not None
        plain = web.TCPSite(runner, "127.0.0.1", 0)
        fast = _FastSite(
            runner, "127.0.0.1", 0, fast=FastPath(app[STATIC], fallback, reserved=reserved)
        )
        await plain.start()
        await fast.start()
        yield Serving(plain.port, fast.port, handed_over)
    finally:
        await runner.cleanup()


async def head_of(port: int, path: str) -> tuple[int, dict[str, str]]:
    """GET `path` over a raw socket: the status and the headers (names in lowercase)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode()
        )
        data = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
    head = data.partition(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
    headers: dict[str, str] = {}
    for line in head[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(head[0].split()[1]), headers


def directives(policy: str) -> dict[str, str]:
    parts = (item.strip().split(None, 1) for item in policy.split(";") if item.strip())
    return {part[0]: part[1] if len(part) > 1 else "" for part in parts}


@pytest.mark.parametrize("path", NOT_FRAMEABLE)
async def test_pages_have_a_csp_and_cannot_be_framed_on_both_paths(
    serving: Serving, path: str
) -> None:
    before = len(serving.handed_over)
    status, fast = await head_of(serving.fast, path)
    assert status == 200
    assert len(serving.handed_over) == before, "the fast path did not answer this page"
    status, plain = await head_of(serving.plain, path)
    assert status == 200
    assert {h: fast.get(h) for h in SECURITY} == {h: plain.get(h) for h in SECURITY}
    policy = directives(plain["content-security-policy"])
    assert policy["frame-ancestors"] == "'none'"
    assert policy["default-src"] == "'none'"
    assert "script-src" not in policy  # so no script runs: default-src 'none'
    assert policy["form-action"] == "'self'"
    assert plain["x-frame-options"] == "DENY"


@pytest.mark.parametrize("path", FRAMEABLE)
async def test_the_embed_widget_stays_frameable_on_both_paths(serving: Serving, path: str) -> None:
    for port in (serving.fast, serving.plain):
        status, headers = await head_of(port, path)
        assert status == 200
        assert "x-frame-options" not in headers
        policy = directives(headers["content-security-policy"])
        assert "frame-ancestors" not in policy
        assert policy["default-src"] == "'none'"


@pytest.mark.parametrize("path", ["/no-such-page", "/subscribe"])
async def test_error_and_subscription_pages_cannot_be_framed(serving: Serving, path: str) -> None:
    status, headers = await head_of(serving.plain, path)
    assert status in (404, 405)
    assert headers["x-frame-options"] == "DENY"
    assert directives(headers["content-security-policy"])["frame-ancestors"] == "'none'"

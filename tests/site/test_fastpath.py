"""The static fast path answers exactly what aiohttp would, byte for byte but for the Date."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
import uvloop
from aiohttp import web
from aiohttp.typedefs import Handler

from broadcaster.site.fastpath import HEAD_TIMEOUT, FastPath
from broadcaster.site.static import StaticFiles
from broadcaster.web.app import _FastSite, _other_routes
from broadcaster.web.keys import STATIC
from tests.site.test_static import BUILT, FILES, TIMES

# (aiohttp only, fast path in front of aiohttp, one entry per connection handed to aiohttp)
Servers = tuple[int, int, list[int]]


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def make(files: StaticFiles) -> web.Application:
    app = web.Application()
    app[STATIC] = files
    app.router.add_get("/healthz", healthz)
    app.router.add_route("*", "/{path:.*}", files.handle)
    return app


@pytest.fixture
def files() -> StaticFiles:
    # With the site's URL, feeds carry their WebSub `Link:` header.
    static = StaticFiles(base_url="https://thongtin.example.gov.vn")
    # A file where the app has a route of its own: the route must win, as without fast path.
    static.replace({**FILES, "healthz": b"shadowed"}, last_modified=TIMES, built_at=BUILT)
    return static


@contextlib.asynccontextmanager
async def serving(files: StaticFiles, head_timeout: float = HEAD_TIMEOUT) -> AsyncIterator[Servers]:
    """The same files behind aiohttp alone, and behind the fast path in front of aiohttp."""
    runners = [web.AppRunner(make(files), access_log=None) for _ in range(2)]
    for runner in runners:
        await runner.setup()
    try:
        plain = web.TCPSite(runners[0], "127.0.0.1", 0)
        reserved = _other_routes(runners[1].app, files)
        assert reserved == ["/healthz"]
        assert runners[1].server is not None
        server = runners[1].server
        handed_over: list[int] = []

        def fallback() -> asyncio.BaseProtocol:
            handed_over.append(1)
            return server()

        fast = FastPath(files, fallback, reserved=reserved, head_timeout=head_timeout)
        fast_site = _FastSite(runners[1], "127.0.0.1", 0, fast=fast)
        await plain.start()
        await fast_site.start()
        yield plain.port, fast_site.port, handed_over
    finally:
        for runner in runners:
            await runner.cleanup()


@pytest_asyncio.fixture
async def servers(files: StaticFiles) -> AsyncIterator[Servers]:
    async with serving(files) as ports:
        yield ports


async def exchange(port: int, *chunks: bytes) -> list[bytes]:
    """Send `chunks` (the last request must close), return each response without its Date."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for chunk in chunks:
        writer.write(chunk)
        await writer.drain()
        await asyncio.sleep(0.01)
    data = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    responses = []
    while data:
        head, _, data = data.partition(b"\r\n\r\n")
        lines = [line for line in head.split(b"\r\n") if not line.startswith(b"Date: ")]
        length = next(
            (int(line.split(b":")[1]) for line in lines if line.startswith(b"Content-Length:")), 0
        )
        if head.startswith(b"HTTP/1.1 304"):
            length = 0
        responses.append(b"\r\n".join(lines) + b"\r\n\r\n" + data[:length])
        data = data[length:]
    return responses


def request(target: str, *headers: str, method: str = "GET", version: str = "1.1") -> bytes:
    lines = [f"{method} {target} HTTP/{version}", "Host: localhost", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


CLOSE = "Connection: close"
REQUESTS = {
    "feed": [request("/feeds/vi/all.rss", CLOSE)],
    "page-and-query": [request("/vi/?utm=x", CLOSE)],
    "keep-alive-then-close": [request("/", "Connection: keep-alive"), request("/vi/", CLOSE)],
    "pipelined-fast-slow-fast": [
        request("/feeds/vi/all.atom") + request("/healthz") + request("/feeds/vi/all.atom", CLOSE)
    ],
    "split-byte-by-byte": [bytes([b]) for b in request("/sitemap.xml", CLOSE)],
    "route-wins-over-file": [request("/healthz", CLOSE)],
    "not-found": [request("/nope", CLOSE)],
    "folder-redirect": [request("/vi", CLOSE)],
    "post": [request("/feeds/vi/all.rss", CLOSE, "Content-Length: 2", method="POST") + b"{}"],
    "http-1.0": [request("/feeds/vi/all.rss", version="1.0")],
    "percent-encoded": [request("/feeds/vi/all%2Erss", CLOSE)],
    "bad-header": [request("/feeds/vi/all.rss", "Bad Header: x", CLOSE)],
    "upgrade": [request("/feeds/vi/all.rss", "Connection: upgrade", "Upgrade: h2c", CLOSE)],
    "if-modified-since-304": [
        request("/feeds/vi/all.rss", "If-Modified-Since: Fri, 09 Jul 2021 17:00:30 GMT", CLOSE)
    ],
    "if-modified-since-older": [
        request("/feeds/vi/all.rss", "If-Modified-Since: Fri, 09 Jul 2021 17:00:29 GMT", CLOSE)
    ],
    "if-none-match-other": [request("/feeds/vi/all.rss", 'If-None-Match: "x"', CLOSE)],
    "if-none-match-star-wins": [
        request(
            "/feeds/vi/all.rss",
            "If-None-Match: *",
            "If-Modified-Since: Fri, 09 Jul 2021 17:00:29 GMT",
            CLOSE,
        )
    ],
}


# Answered by the fast path alone; every other case goes to aiohttp.
FAST = {
    "feed",
    "page-and-query",
    "keep-alive-then-close",
    "split-byte-by-byte",
    "if-modified-since-304",
    "if-modified-since-older",
    "if-none-match-other",
    "if-none-match-star-wins",
}


@pytest.mark.parametrize("case", REQUESTS)
@pytest.mark.asyncio
async def test_the_same_answers_with_and_without_the_fast_path(servers: Servers, case: str) -> None:
    plain, fast, handed_over = servers
    expected = await exchange(plain, *REQUESTS[case])
    assert expected
    assert await exchange(fast, *REQUESTS[case]) == expected
    assert len(handed_over) == (0 if case in FAST else 1)


@pytest.mark.asyncio
async def test_head_and_matching_etags(servers: Servers, files: StaticFiles) -> None:
    plain, fast, _ = servers
    etag = files.files["feeds/vi/all.rss"].etag
    for value in (etag, f"W/{etag}", f'"a", {etag}'):
        chunks = [request("/feeds/vi/all.rss", f"If-None-Match: {value}", CLOSE)]
        answers = await exchange(fast, *chunks)
        assert answers == await exchange(plain, *chunks)
        assert answers[0].startswith(b"HTTP/1.1 304 Not Modified\r\n")
    head = request("/feeds/vi/all.rss", CLOSE, method="HEAD")
    reader, writer = await asyncio.open_connection("127.0.0.1", fast)
    writer.write(head)
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    assert answer.endswith(b"Connection: close\r\n\r\n")  # headers only
    assert f"Content-Length: {len(FILES['feeds/vi/all.rss'])}".encode() in answer


@pytest.mark.asyncio
async def test_the_fast_path_names_a_feeds_websub_hub_and_itself(servers: Servers) -> None:
    _, fast, handed_over = servers
    (feed,) = await exchange(fast, request("/feeds/vi/all.rss", CLOSE))
    (page,) = await exchange(fast, request("/vi/", CLOSE))
    assert handed_over == []
    link = (
        b'Link: <https://thongtin.example.gov.vn/websub>; rel="hub", '
        b'<https://thongtin.example.gov.vn/feeds/vi/all.rss>; rel="self"\r\n'
    )
    assert link in feed
    assert b"Link:" not in page


@pytest.mark.asyncio
async def test_a_replaced_set_is_served_at_once(servers: Servers, files: StaticFiles) -> None:
    _, fast, _ = servers
    # The same request head before and after: a remembered answer must not outlive the set.
    before = await exchange(fast, request("/feeds/vi/all.rss", CLOSE))
    assert before[0].endswith(FILES["feeds/vi/all.rss"])
    files.replace({"feeds/vi/all.rss": b"<rss>new</rss>"}, last_modified=BUILT)
    answers = await exchange(fast, request("/feeds/vi/all.rss", CLOSE))
    assert answers[0].endswith(b"\r\n\r\n<rss>new</rss>")


def test_middlewares_turn_the_fast_path_off(files: StaticFiles) -> None:
    @web.middleware
    async def noop(request: web.Request, handler: Handler) -> web.StreamResponse:
        return await handler(request)

    app = make(files)
    app.middlewares.append(noop)
    assert _other_routes(app, files) is None
    catch_all_first = web.Application()
    catch_all_first.router.add_get("/{locale}/subscribe", healthz)
    catch_all_first.router.add_route("*", "/{path:.*}", files.handle)
    assert _other_routes(catch_all_first, files) is None


def test_on_uvloop(files: StaticFiles) -> None:
    async def main() -> None:
        async with serving(files) as (plain, fast, _):
            chunks = [request("/feeds/vi/all.atom") + request("/healthz", CLOSE)]
            assert await exchange(fast, *chunks) == await exchange(plain, *chunks)

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main())


async def trickle(port: int, every: float, lines: int) -> tuple[bytes, float]:
    """Send a request head one header line every `every` seconds; what came back, and when
    the server closed the connection (seconds from the first byte)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    loop = asyncio.get_running_loop()
    started = loop.time()
    received = asyncio.ensure_future(reader.read())
    try:
        writer.write(b"GET /feeds/vi/all.rss HTTP/1.1\r\n")
        for number in range(lines):
            done, _ = await asyncio.wait([received], timeout=every)
            if done:
                break
            with contextlib.suppress(ConnectionError):
                writer.write(f"X-Trickle-{number}: {'a' * 20}\r\n".encode())
        answer = await asyncio.wait_for(received, every * 2)
        return answer, loop.time() - started
    finally:
        received.cancel()
        writer.close()


async def test_a_trickled_request_head_is_cut_off_at_its_deadline(files: StaticFiles) -> None:
    """Each line resets the idle timer, but the head as a whole has a deadline: 408, closed."""
    async with serving(files, head_timeout=1.5) as (_, fast, handed_over):
        answer, closed_after = await trickle(fast, every=0.3, lines=20)
        assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), answer
        assert b"Connection: close" in answer
        assert 1.4 <= closed_after < 6.0, closed_after  # never open forever; room for load
        # A head that arrives in time, in pieces, is still answered.
        pieces = request("/feeds/vi/all.rss", CLOSE)
        answers = await exchange(fast, pieces[:10], pieces[10:30], pieces[30:])
        assert answers[0].startswith(b"HTTP/1.1 200 OK")
        assert handed_over == []


def test_the_head_deadline_is_ten_seconds() -> None:
    assert HEAD_TIMEOUT == 10.0

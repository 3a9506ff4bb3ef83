"""Generated files served from memory by a real aiohttp server, checked as an HTTP client sees them."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient

from broadcaster.site.media import content_type_for
from broadcaster.site.static import StaticFiles, http_date

BUILT = datetime(2021, 7, 10, 1, 0, tzinfo=UTC)
FEED_TIME = datetime(2021, 7, 9, 17, 0, 30, 500000, tzinfo=UTC)
FILES = {
    "index.html": "<!doctype html><title>Trang chủ</title>".encode(),
    "vi/index.html": "<!doctype html><title>Thông tin dịch vụ công</title>".encode(),
    "vi/online-submission/index.html": b"<!doctype html><title>page</title>",
    "en/index.html": b"<!doctype html><title>Home</title>",
    "sitemap.xml": b"<?xml version='1.0'?><urlset/>",
    "style.css": b"body{margin:0}",
    "robots.txt": b"User-agent: *\n",
    "feeds/vi/all.rss": "<rss><channel><title>Thông báo</title></channel></rss>".encode(),
    "feeds/vi/all.atom": b"<feed xmlns='http://www.w3.org/2005/Atom'/>",
    "feeds/vi/all.json": b'{"version": "https://jsonfeed.org/version/1.1"}',
}
TIMES = {path: FEED_TIME for path in FILES if path.startswith("feeds/")}

Client = TestClient[web.Request, web.Application]


async def raw_get(client: Client, raw_path: str) -> tuple[int, dict[str, str], bytes]:
    """GET `raw_path` exactly as given, over a plain socket."""
    reader, writer = await asyncio.open_connection(client.host, client.port)
    request = f"GET {raw_path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    writer.write(request.encode())
    await writer.drain()
    data = await reader.read()
    writer.close()
    await writer.wait_closed()
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, body


def serve(files: StaticFiles) -> web.Application:
    app = web.Application()
    app.router.add_routes([files.route()])
    return app


@pytest.fixture
def static() -> StaticFiles:
    files = StaticFiles()
    files.replace(FILES, last_modified=TIMES, built_at=BUILT)
    return files


# Marked explicitly (and the fixture declared with pytest_asyncio), so these tests run the same
# whether pytest-asyncio is in strict or in auto mode.
@pytest_asyncio.fixture
async def client(aiohttp_client: AiohttpClient, static: StaticFiles) -> Client:
    return await aiohttp_client(serve(static))


@pytest.mark.asyncio
async def test_a_feed_with_its_validators_and_content_type(client: Client) -> None:
    response = await client.get("/feeds/vi/all.rss")
    assert response.status == 200
    assert await response.read() == FILES["feeds/vi/all.rss"]
    assert response.headers["Content-Type"] == "application/rss+xml; charset=utf-8"
    assert response.headers["Cache-Control"] == "public, max-age=300"
    etag = response.headers["ETag"]
    assert etag.startswith('"')
    assert etag.endswith('"')
    assert len(etag) > 10
    # The feed's own time, whole seconds, in RFC 7231 format.
    assert response.headers["Last-Modified"] == "Fri, 09 Jul 2021 17:00:30 GMT"
    assert "Vary" not in response.headers


@pytest.mark.parametrize(
    ("path", "content_type", "cache_control"),
    [
        ("/", "text/html; charset=utf-8", "public, max-age=60"),
        ("/vi/", "text/html; charset=utf-8", "public, max-age=60"),
        ("/vi/online-submission/", "text/html; charset=utf-8", "public, max-age=60"),
        ("/vi/index.html", "text/html; charset=utf-8", "public, max-age=60"),
        ("/sitemap.xml", "application/xml; charset=utf-8", "public, max-age=60"),
        ("/style.css", "text/css; charset=utf-8", "public, max-age=60"),
        ("/robots.txt", "text/plain; charset=utf-8", "public, max-age=60"),
        ("/feeds/vi/all.atom", "application/atom+xml; charset=utf-8", "public, max-age=300"),
        ("/feeds/vi/all.json", "application/feed+json; charset=utf-8", "public, max-age=300"),
    ],
)
@pytest.mark.asyncio
async def test_pages_and_files(
    client: Client, path: str, content_type: str, cache_control: str
) -> None:
    response = await client.get(path)
    assert response.status == 200
    assert response.headers["Content-Type"] == content_type
    assert response.headers["Cache-Control"] == cache_control
    assert response.headers["Last-Modified"] == http_date(
        FEED_TIME if path.startswith("/feeds/") else BUILT
    )


@pytest.mark.asyncio
async def test_the_home_pages_are_the_index_files(client: Client) -> None:
    assert await (await client.get("/")).read() == FILES["index.html"]
    assert await (await client.get("/vi/")).read() == FILES["vi/index.html"]


@pytest.mark.parametrize(
    "if_none_match",
    ["{etag}", "W/{etag}", '"other", {etag}', '"a", W/{etag} , "b"', "*"],
    ids=["exact", "weak", "in-list", "weak-in-list", "star"],
)
@pytest.mark.asyncio
async def test_a_matching_etag_gives_304(client: Client, if_none_match: str) -> None:
    first = await client.get("/feeds/vi/all.rss")
    etag = first.headers["ETag"]
    response = await client.get(
        "/feeds/vi/all.rss", headers={"If-None-Match": if_none_match.format(etag=etag)}
    )
    assert response.status == 304
    assert await response.read() == b""
    assert response.headers["ETag"] == etag
    assert response.headers["Cache-Control"] == first.headers["Cache-Control"]
    assert response.headers["Last-Modified"] == first.headers["Last-Modified"]


@pytest.mark.parametrize("if_none_match", ['"nope"', 'W/"nope", "other"', "garbage"])
@pytest.mark.asyncio
async def test_a_different_etag_gives_the_file(client: Client, if_none_match: str) -> None:
    response = await client.get("/feeds/vi/all.rss", headers={"If-None-Match": if_none_match})
    assert response.status == 200
    assert await response.read() == FILES["feeds/vi/all.rss"]


@pytest.mark.parametrize(
    ("since", "status"),
    [
        (FEED_TIME, 304),  # the Last-Modified value itself (fraction dropped)
        (FEED_TIME + timedelta(days=1), 304),
        (FEED_TIME - timedelta(seconds=1), 200),
        (datetime.now(UTC) + timedelta(days=2), 200),  # in the future: invalid, ignored
    ],
    ids=["equal", "later", "earlier", "future"],
)
@pytest.mark.asyncio
async def test_if_modified_since(client: Client, since: datetime, status: int) -> None:
    response = await client.get(
        "/feeds/vi/all.rss", headers={"If-Modified-Since": http_date(since)}
    )
    assert response.status == status


@pytest.mark.asyncio
async def test_if_modified_since_in_an_older_format_and_garbage(client: Client) -> None:
    asctime = "Sat Jul 10 00:00:00 2021"
    response = await client.get("/feeds/vi/all.rss", headers={"If-Modified-Since": asctime})
    assert response.status == 304
    response = await client.get("/feeds/vi/all.rss", headers={"If-Modified-Since": "yesterday"})
    assert response.status == 200


@pytest.mark.asyncio
async def test_if_none_match_wins_over_if_modified_since(client: Client) -> None:
    current = http_date(FEED_TIME + timedelta(days=1))
    response = await client.get(
        "/feeds/vi/all.rss", headers={"If-None-Match": '"stale"', "If-Modified-Since": current}
    )
    assert response.status == 200
    etag = response.headers["ETag"]
    old = http_date(FEED_TIME - timedelta(days=1))
    response = await client.get(
        "/feeds/vi/all.rss", headers={"If-None-Match": etag, "If-Modified-Since": old}
    )
    assert response.status == 304


@pytest.mark.asyncio
async def test_head_has_headers_and_no_body(client: Client) -> None:
    get = await client.get("/feeds/vi/all.rss")
    head = await client.head("/feeds/vi/all.rss")
    assert head.status == 200
    assert await head.read() == b""
    assert head.headers["Content-Length"] == str(len(FILES["feeds/vi/all.rss"]))
    for name in ("ETag", "Last-Modified", "Cache-Control", "Content-Type"):
        assert head.headers[name] == get.headers[name]
    head = await client.head("/feeds/vi/all.rss", headers={"If-None-Match": get.headers["ETag"]})
    assert head.status == 304


@pytest.mark.asyncio
async def test_a_folder_without_slash_redirects(client: Client) -> None:
    response = await client.get("/vi", allow_redirects=False)
    assert response.status == 301
    assert response.headers["Location"] == "/vi/"
    response = await client.get("/vi/online-submission?utm=x", allow_redirects=False)
    assert response.status == 301
    assert response.headers["Location"] == "/vi/online-submission/?utm=x"


@pytest.mark.parametrize(
    "raw_path",
    [
        "/nothing-here",
        "/feeds/vi/none.rss",
        "/vi/index.html/",
        "/../../etc/passwd",
        "/vi/../index.html",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/vi/%2e%2e/index.html",
        "/vi/..%2findex.html",
        "/feeds/vi/all.rss%00.html",
        "/..%5c..%5cetc%5cpasswd",
        "//etc/passwd",
    ],
)
@pytest.mark.asyncio
async def test_unknown_and_traversal_paths_are_refused(client: Client, raw_path: str) -> None:
    # Sent byte for byte: an HTTP client library would normalise the dots away first.
    status, headers, body = await raw_get(client, raw_path)
    assert status in (400, 404)
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert b"Traceback" not in body
    assert b"root:" not in body


@pytest.mark.asyncio
async def test_not_found_is_a_small_bilingual_page(client: Client) -> None:
    response = await client.get("/khong-co")
    assert response.status == 404
    body = await response.text()
    assert "Không tìm thấy trang" in body
    assert "Page not found" in body
    assert len(body) < 1000


@pytest.mark.asyncio
async def test_only_get_and_head(client: Client) -> None:
    response = await client.post("/feeds/vi/all.rss")
    assert response.status == 405


@pytest.mark.asyncio
async def test_replace_swaps_the_whole_set(client: Client, static: StaticFiles) -> None:
    before = await client.get("/feeds/vi/all.rss")
    etag = before.headers["ETag"]
    changed = b"<rss><channel><title>Changed</title></channel></rss>"
    static.replace(
        {"feeds/vi/all.rss": changed, "en/index.html": b"en"},
        last_modified={"feeds/vi/all.rss": FEED_TIME + timedelta(hours=1)},
        built_at=BUILT,
    )
    response = await client.get("/feeds/vi/all.rss", headers={"If-None-Match": etag})
    assert response.status == 200
    assert await response.read() == changed
    assert response.headers["ETag"] != etag
    assert response.headers["Last-Modified"] == http_date(FEED_TIME + timedelta(hours=1))
    # Files not in the new set are gone, not left over from the old one.
    assert (await client.get("/vi/")).status == 404
    assert (await client.get("/en/")).status == 200


def test_changed_bytes_never_keep_an_older_last_modified(static: StaticFiles) -> None:
    # A feed whose newest entry was withdrawn: its newest remaining entry is older.
    old = static.files["feeds/vi/all.rss"]
    later = BUILT + timedelta(days=3)
    static.replace(
        {"feeds/vi/all.rss": b"<rss/>"},
        last_modified={"feeds/vi/all.rss": FEED_TIME - timedelta(days=1)},
        built_at=later,
    )
    assert static.files["feeds/vi/all.rss"].last_modified == later
    # Unchanged bytes keep the time they are given.
    static.replace({"feeds/vi/all.rss": b"<rss/>"}, last_modified=FEED_TIME, built_at=later)
    assert static.files["feeds/vi/all.rss"].last_modified == FEED_TIME.replace(microsecond=0)
    assert old.etag != static.files["feeds/vi/all.rss"].etag


@pytest.mark.asyncio
async def test_readers_never_see_a_half_replaced_set(client: Client, static: StaticFiles) -> None:
    sets = [{p: b + b"-%d" % i for p, b in FILES.items()} for i in range(2)]

    async def swap() -> None:
        for i in range(50):
            static.replace(sets[i % 2], last_modified=BUILT, built_at=BUILT)
            await asyncio.sleep(0)

    async def read() -> set[bytes]:
        seen = set()
        for _ in range(25):
            a, b = await asyncio.gather(client.get("/"), client.get("/feeds/vi/all.rss"))
            seen.add((await a.read())[-2:])
            seen.add((await b.read())[-2:])
        return seen

    _, seen = await asyncio.gather(swap(), read())
    assert seen <= {b"-0", b"-1"}


@pytest.mark.asyncio
async def test_load_dir_serves_a_built_tree(aiohttp_client: AiohttpClient, tmp_path: Path) -> None:
    # The site writer's layout: public -> public.builds/<site>, <site>/feeds -> <feeds build>.
    builds = tmp_path / "public.builds"
    site = builds / "000002-0123456789abcdef"
    feeds = builds / "feeds.builds" / "000001-fedcba9876543210"
    for path, body in FILES.items():
        target = feeds / path.removeprefix("feeds/") if path.startswith("feeds/") else site / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body)
    (site / "feeds").symlink_to(Path("..", "feeds.builds", feeds.name))
    (tmp_path / "public").symlink_to(Path("public.builds", site.name))
    mtime = datetime(2021, 7, 12, 7, 0, tzinfo=UTC).timestamp()
    os.utime(feeds / "vi/all.rss", (mtime, mtime))
    # Not part of the tree: hidden files, links leading out of the builds, link loops.
    (site / ".hidden").write_text("secret")
    (tmp_path / "outside.txt").write_text("outside")
    (site / "link.txt").symlink_to(tmp_path / "outside.txt")
    (site / "vi" / "loop").symlink_to(site)

    files = StaticFiles()
    files.load_dir(tmp_path / "public")
    assert set(files.files) == set(FILES)
    client = await aiohttp_client(serve(files))
    response = await client.get("/feeds/vi/all.rss")
    assert response.status == 200
    assert await response.read() == FILES["feeds/vi/all.rss"]
    assert response.headers["Last-Modified"] == "Mon, 12 Jul 2021 07:00:00 GMT"
    assert (await client.get("/vi/")).status == 200
    assert (await client.get("/link.txt")).status == 404
    assert (await client.get("/.hidden")).status == 404


@pytest.mark.asyncio
async def test_cache_control_is_configurable(aiohttp_client: AiohttpClient) -> None:
    files = StaticFiles(feed_cache_control="public, max-age=30", page_cache_control="no-cache")
    files.replace(FILES, last_modified=BUILT)
    client = await aiohttp_client(serve(files))
    assert (await client.get("/feeds/vi/all.rss")).headers["Cache-Control"] == "public, max-age=30"
    assert (await client.get("/")).headers["Cache-Control"] == "no-cache"


def test_replace_refuses_paths_outside_the_tree() -> None:
    files = StaticFiles()
    for bad in ("../etc/passwd", "a/../b", "a//b", "a\\b", "", "a\x00b"):
        with pytest.raises(ValueError, match="not a servable path"):
            files.replace({bad: b"x"}, last_modified=BUILT)


def test_content_types() -> None:
    assert (
        content_type_for("feeds/en/online-services.json") == "application/feed+json; charset=utf-8"
    )
    assert content_type_for("data/contacts.json") == "application/json"
    assert content_type_for("files/6176-UBND-KSTT.pdf") == "application/pdf"
    assert content_type_for("files/unknown.bin-xyz") == "application/octet-stream"


def test_http_dates_are_rfc_7231() -> None:
    text = http_date(datetime(2021, 7, 10, 8, 0, tzinfo=UTC) + timedelta(hours=0))
    assert text == "Sat, 10 Jul 2021 08:00:00 GMT"
    assert parsedate_to_datetime(text) == datetime(2021, 7, 10, 8, 0, tzinfo=UTC)


def test_replace_part_swaps_one_part_and_leaves_the_other_as_served() -> None:
    static = StaticFiles()
    static.replace(FILES, last_modified=TIMES, built_at=BUILT)
    before = static.files
    later = BUILT + timedelta(hours=1)
    site = {p: before[p].body for p in FILES if not p.startswith("feeds/")}
    site["vi/index.html"] = b"<!doctype html><title>new</title>"
    del site["robots.txt"]
    site["en/contacts/index.html"] = b"<!doctype html><title>Contacts</title>"
    static.replace_part(site, prefix="feeds/", inside=False, built_at=later)
    after = static.files
    # The feeds are the very files served before; so are the site's unchanged files.
    assert all(after[p] is before[p] for p in FILES if p.startswith("feeds/"))
    assert after["sitemap.xml"] is before["sitemap.xml"]
    # Changed and new files are stamped now, a removed one is gone, folders still route.
    assert after["vi/index.html"].last_modified == later
    assert after["vi/index.html"].etag != before["vi/index.html"].etag
    assert after["en/contacts/index.html"].last_modified == later
    assert "robots.txt" not in after
    assert static.get("en/contacts/index.html") is after["en/contacts/index.html"]
    # The same as replacing everything, with every other file passed back as served.
    whole = StaticFiles()
    whole.replace(FILES, last_modified=TIMES, built_at=BUILT)
    kept = {p: f.body for p, f in before.items() if p.startswith("feeds/")}
    times = {p: f.last_modified for p, f in before.items()}
    whole.replace({**kept, **site}, last_modified=times, built_at=later)
    assert {p: (f.etag, f.last_modified, f.headers) for p, f in whole.files.items()} == {
        p: (f.etag, f.last_modified, f.headers) for p, f in after.items()
    }
    with pytest.raises(ValueError, match="outside the part"):
        static.replace_part({"feeds/vi/all.rss": b""}, prefix="feeds/", inside=False)


def test_equal_bytes_are_served_as_the_object_given_last() -> None:
    static = StaticFiles()
    static.replace(FILES, last_modified=TIMES, built_at=BUILT)
    old = static.files["feeds/vi/all.rss"]
    again = bytes(bytearray(old.body))  # equal, another object (as read back from disk)
    static.replace_part({"feeds/vi/all.rss": again}, prefix="feeds/")
    now = static.files["feeds/vi/all.rss"]
    assert now.body is again
    assert (now.etag, now.last_modified, now.headers) == (old.etag, old.last_modified, old.headers)

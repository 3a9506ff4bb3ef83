"""Generated files (site pages, feeds) served from memory with conditional GET, for aiohttp.

Everything a response needs is computed once per file in `StaticFiles.replace`; the request
path is one dict lookup and one `web.Response`.

Every answer carries the headers of site/headers.py: a Content-Security-Policy, and no
framing but for the widget under `embed/`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path

from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

from broadcaster.site.headers import (
    BAD_REQUEST_PAGE,
    ERROR_HEADERS,
    FEED_TYPES,
    NOT_FOUND_PAGE,
    NOT_FRAMEABLE,
    feed_links,
    security_headers,
)
from broadcaster.site.media import FILES_PREFIX, content_type_for, file_headers

FEED_CACHE_CONTROL = "public, max-age=300"
PAGE_CACHE_CONTROL = "public, max-age=60"
INDEX = "index.html"
# One entity-tag of an If-None-Match list, weak or strong; the opaque part is group 1.
_ENTITY_TAG = re.compile(r'(?:W/)?("[^"]*")')
_GET_HEAD = frozenset({"GET", "HEAD"})


def http_date(when: datetime) -> str:
    """`when` as an RFC 7231 HTTP-date, for example `Sat, 10 Jul 2021 01:00:00 GMT`."""
    return format_datetime(when.astimezone(UTC), usegmt=True)


def _whole_seconds(when: datetime) -> datetime:
    """UTC, truncated to the second: HTTP dates carry no fractions, comparisons must agree."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).replace(microsecond=0)


def _checked_path(path: str) -> str:
    """`path` without a leading slash; refuses anything that is not a plain relative path."""
    path = path.lstrip("/")
    parts = path.split("/")
    if not path or "\x00" in path or "\\" in path or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"not a servable path: {path!r}")
    return path


def _tree(root: Path, within: Path | None) -> Iterator[tuple[str, Path]]:
    """(relative path, real file) for every file under `root`, following safe symlinks."""
    top = root.resolve()
    allowed = within.resolve() if within is not None else top.parent
    seen: set[Path] = set()
    pending = [(top, "")]
    while pending:
        folder, prefix = pending.pop()
        if folder in seen:  # a symlink loop
            continue
        seen.add(folder)
        for name in sorted(os.listdir(folder)):
            if name.startswith("."):
                continue
            real = (folder / name).resolve()
            if not real.is_relative_to(allowed):
                continue
            if real.is_dir():
                pending.append((real, f"{prefix}{name}/"))
            elif real.is_file():
                yield f"{prefix}{name}", real


def _header_lines(headers: Mapping[str, str]) -> bytes:
    return "".join(f"{name}: {value}\r\n" for name, value in headers.items()).encode()


@dataclass(frozen=True, slots=True)
class StaticFile:
    """One file with the headers of its 200 and 304 answers, computed once."""

    body: bytes
    content_type: str
    etag: str
    last_modified: datetime
    cache_control: str
    headers: CIMultiDictProxy[str]
    not_modified_headers: CIMultiDictProxy[str]
    # If-None-Match values that match without parsing: the tag, its weak form, `*`.
    matching_tags: frozenset[str]
    last_modified_http: str
    last_modified_ts: float
    # The status line and the same headers as raw bytes, for `FastPath` (no Date or Server).
    head_200: bytes
    head_304: bytes

    @classmethod
    def build(
        cls,
        body: bytes,
        content_type: str,
        last_modified: datetime,
        cache_control: str,
        security: Mapping[str, str] = NOT_FRAMEABLE,
    ) -> StaticFile:
        """A file with a strong ETag from a hash of `body`, and its `security` headers."""
        etag = f'"{hashlib.blake2b(body, digest_size=16).hexdigest()}"'
        last_modified = _whole_seconds(last_modified)
        last_modified_http = http_date(last_modified)
        validators = {
            "ETag": etag,
            "Last-Modified": last_modified_http,
            "Cache-Control": cache_control,
        }
        headers = CIMultiDict(
            {
                "Content-Type": content_type,
                "Content-Length": str(len(body)),
                **validators,
                "X-Content-Type-Options": "nosniff",
                **security,
            }
        )
        return cls(
            body=body,
            content_type=content_type,
            etag=etag,
            last_modified=last_modified,
            cache_control=cache_control,
            headers=CIMultiDictProxy(headers),
            not_modified_headers=CIMultiDictProxy(CIMultiDict(validators)),
            matching_tags=frozenset({etag, f"W/{etag}", "*"}),
            last_modified_http=last_modified_http,
            last_modified_ts=last_modified.timestamp(),
            head_200=b"HTTP/1.1 200 OK\r\n" + _header_lines(headers),
            head_304=b"HTTP/1.1 304 Not Modified\r\n" + _header_lines(validators),
        )

    def is_not_modified(self, if_none_match: str | None, if_modified_since: str | None) -> bool:
        """Whether a GET with these request headers gets 304; If-None-Match wins when present."""
        if if_none_match is not None:
            return self.etag_matches(if_none_match)
        return if_modified_since is not None and self.not_modified_since(if_modified_since)

    def etag_matches(self, if_none_match: str) -> bool:
        """Weak comparison (RFC 7232 2.3.2) against an If-None-Match value or list."""
        if if_none_match in self.matching_tags:
            return True
        if if_none_match.strip() == "*":
            return True
        return any(tag == self.etag for tag in _ENTITY_TAG.findall(if_none_match))

    def not_modified_since(self, if_modified_since: str) -> bool:
        """True when If-Modified-Since is a valid date, not in the future, >= Last-Modified."""
        if if_modified_since == self.last_modified_http:
            return True
        try:
            since = parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError, IndexError):
            return False
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        stamp = since.timestamp()
        # A date later than the server's clock is invalid (RFC 7232 3.3): answer in full.
        return self.last_modified_ts <= stamp <= datetime.now(UTC).timestamp()


@dataclass(frozen=True, slots=True)
class _FileSet:
    """One immutable generation of files, swapped in whole by `StaticFiles.replace`."""

    files: Mapping[str, StaticFile]
    # Request path -> file: `/vi/page.html`, and `/vi/` for `vi/index.html`.
    routes: Mapping[str, StaticFile]


def _add(
    files: dict[str, StaticFile], routes: dict[str, StaticFile], path: str, static: StaticFile
) -> None:
    """Put `static` at `path`, and at its folder's URL when it is an index page."""
    files[path] = static
    routes["/" + path] = static
    if path == INDEX or path.endswith("/" + INDEX):
        routes["/" + path[: -len(INDEX)]] = static


class StaticFiles:
    """A set of generated files by path, served by `handle`; `replace` swaps the whole set."""

    def __init__(
        self,
        *,
        feed_cache_control: str = FEED_CACHE_CONTROL,
        page_cache_control: str = PAGE_CACHE_CONTROL,
        base_url: str | None = None,
    ) -> None:
        self.feed_cache_control = feed_cache_control
        self.page_cache_control = page_cache_control
        # With the site's public URL, every feed names its WebSub hub and itself in a
        # `Link:` header (WebSub discovery), as it does inside the document.
        self.base_url = base_url.rstrip("/") if base_url else None
        self._set = _FileSet(files={}, routes={})

    @property
    def files(self) -> Mapping[str, StaticFile]:
        """The current files by path in the public tree (`index.html`, `feeds/vi/all.rss`)."""
        return self._set.files

    def get(self, path: str) -> StaticFile | None:
        """The file at `path` (no leading slash), or None."""
        return self._set.files.get(path.lstrip("/"))

    def cache_control_for(self, path: str) -> str:
        """Feeds are polled: they get the feed policy; everything else the page policy."""
        return self.feed_cache_control if path.startswith("feeds/") else self.page_cache_control

    def replace(
        self,
        files: Mapping[str, bytes],
        *,
        last_modified: Mapping[str, datetime] | datetime,
        built_at: datetime | None = None,
    ) -> None:
        """Serve exactly `files` from now on; readers see the old set or the new, never a mix.

        `last_modified` is one time for all files or a time per path; paths missing from the
        mapping use `built_at` (default: now). A file whose bytes changed never goes back in
        time, so If-Modified-Since cannot answer 304 for content a client has not seen.
        """
        built_at = _whole_seconds(built_at or datetime.now(UTC))
        previous = self._set.files
        new_files: dict[str, StaticFile] = {}
        routes: dict[str, StaticFile] = {}
        for raw_path, body in files.items():
            old = previous.get(raw_path)
            if old is not None and old.body is body:
                # The very bytes served now (a rebuild reuses most of them): same path,
                # type and policy; only the time could differ.
                if isinstance(last_modified, datetime):
                    when = last_modified
                else:
                    when = last_modified.get(raw_path) or built_at
                if old.last_modified == min(_whole_seconds(when), built_at):
                    _add(new_files, routes, raw_path, old)
                    continue
            path = _checked_path(raw_path)
            if isinstance(last_modified, datetime):
                when = last_modified
            else:
                when = last_modified.get(raw_path) or last_modified.get(path) or built_at
            _add(
                new_files, routes, path, self._stamp(path, body, previous.get(path), when, built_at)
            )
        self._set = _FileSet(files=new_files, routes=routes)

    def replace_part(
        self,
        files: Mapping[str, bytes],
        *,
        prefix: str,
        inside: bool = True,
        built_at: datetime | None = None,
        last_modified: datetime | None = None,
    ) -> None:
        """Serve `files` in place of every file under `prefix` (`inside=False`: of every file
        not under it); the others stay as served. As `replace` with the others passed back
        and each file's time as served now, but only `files` cost any work: bytes served now
        keep their file, new or changed bytes are stamped `built_at` (or later).

        `last_modified` (when what the files are built from last changed, read from the
        store, so that every node says the same) stamps each of `files` instead, unless
        their bytes changed without it moving on (then as above)."""
        built_at = _whole_seconds(built_at or datetime.now(UTC))
        stamp = None if last_modified is None else min(_whole_seconds(last_modified), built_at)
        current = self._set
        new_files = {p: f for p, f in current.files.items() if p.startswith(prefix) is not inside}
        routes = {r: f for r, f in current.routes.items() if r[1:].startswith(prefix) is not inside}
        for raw_path, body in files.items():
            if raw_path.lstrip("/").startswith(prefix) is not inside:
                raise ValueError(f"{raw_path!r} is outside the part being replaced")
            old = current.files.get(raw_path)
            if (
                old is not None
                and old.body is body
                and old.last_modified <= built_at
                and stamp in (None, old.last_modified)
            ):
                _add(new_files, routes, raw_path, old)
                continue
            path = _checked_path(raw_path)
            old = current.files.get(path)
            when = stamp or (old.last_modified if old is not None else built_at)
            _add(new_files, routes, path, self._stamp(path, body, old, when, built_at))
        self._set = _FileSet(files=new_files, routes=routes)

    def _stamp(
        self, path: str, body: bytes, old: StaticFile | None, when: datetime, built_at: datetime
    ) -> StaticFile:
        """The file to serve at `path`: `old` when nothing about it changed, else a new one
        that is never later than the clock nor, when its bytes changed, older than `old`."""
        # Never later than the clock (RFC 7232 2.2.1).
        when = min(_whole_seconds(when), built_at)
        content_type = content_type_for(path)
        cache_control = self.cache_control_for(path)
        same_bytes = old is not None and (old.body is body or old.body == body)
        if (
            old is not None
            and same_bytes
            and old.last_modified == when
            and old.cache_control == cache_control
            and old.content_type == content_type
        ):
            # What build() would give again: skip hashing and headers. Serve these very
            # bytes, so that the next build that reuses them is recognised by identity.
            return old if old.body is body else dataclasses.replace(old, body=body)
        if old is not None and not same_bytes and when <= old.last_modified:
            when = max(built_at, old.last_modified + timedelta(seconds=1))
        headers = _headers(path, content_type)
        if self.base_url is not None and content_type.split(";", 1)[0] in FEED_TYPES:
            headers = {**headers, "Link": feed_links(self.base_url, path)}
        return StaticFile.build(body, content_type, when, cache_control, headers)

    def load_dir(self, root: Path, *, within: Path | None = None) -> None:
        """Serve a built tree from disk (after a restart); Last-Modified is each file's mtime.

        Symlinks are followed (the site writer publishes `public -> public.builds/N` and
        `N/feeds -> ../feeds.builds/M`) but only to targets inside `within`, by default
        the folder that holds the build `root` points to. Hidden names are skipped.
        """
        files: dict[str, bytes] = {}
        times: dict[str, datetime] = {}
        for path, real in _tree(Path(root), within):
            files[path] = real.read_bytes()
            times[path] = datetime.fromtimestamp(real.stat().st_mtime, UTC)
        self.replace(files, last_modified=times)

    def route(self) -> web.RouteDef:
        """The catch-all GET and HEAD route; add it after every other route of the app."""
        return web.get("/{path:.*}", self.handle)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Answer GET or HEAD with the file, 304 when the client's copy is current, else 404."""
        static = self._set.routes.get(request.path)
        if static is None or request.method not in _GET_HEAD:
            return self._miss(request)
        headers = request.headers
        if static.is_not_modified(headers.get("If-None-Match"), headers.get("If-Modified-Since")):
            return web.Response(status=304, headers=static.not_modified_headers)
        return web.Response(body=static.body, headers=static.headers)

    def _miss(self, request: web.Request) -> web.Response:
        """The slow path: wrong method, bad path, directory without slash, or not found."""
        if request.method not in _GET_HEAD:
            return web.Response(
                status=405, body=BAD_REQUEST_PAGE, headers={**ERROR_HEADERS, "Allow": "GET, HEAD"}
            )
        path = request.path
        if "\x00" in path or "\\" in path:
            return web.Response(status=400, body=BAD_REQUEST_PAGE, headers=ERROR_HEADERS)
        if not path.endswith("/") and f"{path}/" in self._set.routes:
            location = f"{request.rel_url.raw_path}/"
            if request.rel_url.raw_query_string:
                location += f"?{request.rel_url.raw_query_string}"
            return web.Response(
                status=301,
                headers={"Location": location, "Cache-Control": self.page_cache_control},
            )
        return web.Response(status=404, body=NOT_FOUND_PAGE, headers=ERROR_HEADERS)


# --- The fast path: the hot static GETs answered below aiohttp ------------------------------

# A request line the fast path answers: GET or HEAD, origin-form target, HTTP/1.1 only.


def _headers(path: str, content_type: str) -> Mapping[str, str]:
    """Pages get the site's policy (headers.py); a campaign's files get theirs (media.py:
    downloads, sandboxed), and neither may be framed."""
    if not path.startswith(FILES_PREFIX):
        return security_headers(path)
    headers = {"X-Frame-Options": "DENY", **file_headers(path, content_type)}
    policy = headers.get("Content-Security-Policy")
    framing = "frame-ancestors 'none'"
    headers["Content-Security-Policy"] = f"{policy}; {framing}" if policy else framing
    return headers

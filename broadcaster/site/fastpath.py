"""A fast path for static GETs: answers plain HTTP/1.1 requests for generated files before aiohttp.

Anything it does not recognise (another route, a body, an upgrade, HTTP/1.0, percent-encoding,
a malformed head) is handed to aiohttp with the connection, so behaviour matches
`StaticFiles.handle` byte for byte apart from Date.

A request head must arrive whole within HEAD_TIMEOUT seconds of its first byte: a client
that trickles it (one header line every few seconds, each one resetting the idle timer)
gets 408 and the connection is closed, so it cannot hold connections open forever.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from email.utils import formatdate
from typing import cast

from aiohttp.http import SERVER_SOFTWARE

from broadcaster.site.static import StaticFiles, _FileSet

_REQUEST_LINE = re.compile(rb"(GET|HEAD) (/[!-~]*) HTTP/1\.1")
# A well-formed header line: a token, a colon, then visible characters, spaces and tabs.
_HEADER_LINE = re.compile(rb"([!#$%&'*+.^_`|~0-9A-Za-z-]+):[\t\x20-\x7e\x80-\xff]*")
# Header names that make the request one for aiohttp: a body, an upgrade, an expectation.
_NOT_FAST = frozenset({b"content-length", b"transfer-encoding", b"upgrade", b"expect", b"te"})
_MAX_HEAD = 8190  # aiohttp's own line limit; anything longer is aiohttp's to refuse
_CACHE_SIZE = 1024  # decisions kept per FastPath, by the exact bytes of the request head
HEAD_TIMEOUT = 10.0  # seconds a request head may take to arrive, from its first byte
_REQUEST_TIMEOUT = b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n"


# Set to True on an aiohttp handler whose paths the site never generates (the radio feed,
# bulletins, the press room): the fast path answers only generated files, so it can stay
# in front of such a route without reserving its prefix (`/feeds/` keeps its fast feeds).
NEVER_GENERATED = "never_generated"


class _Clock:
    """The `Date:` header line, formatted at most once a second."""

    second = -1
    line = b""

    def date_line(self) -> bytes:
        now = int(time.time())
        if now != self.second:
            self.second = now
            self.line = f"Date: {formatdate(now, usegmt=True)}\r\n".encode()
        return self.line


@dataclass(frozen=True, slots=True)
class _Answer:
    """A response minus its Date line: `head`, Date, `tail` (Server, Connection, CRLF), body."""

    head: bytes
    tail: bytes
    body: bytes | None
    close: bool


class FastPath:
    """A protocol factory for `loop.create_server` that answers static GETs itself.

    Plain HTTP/1.1 GET and HEAD requests for a file of `files` (no body, no upgrade, no
    `Connection` other than keep-alive or close, not under a `reserved` path prefix) are
    answered straight from the precomputed bytes, with exactly the status and headers that
    `StaticFiles.handle` gives, including 304 for If-None-Match / If-Modified-Since. The
    first request of a connection that is anything else (another route, another method, a
    malformed or oversized head, HTTP/1.0) hands the connection, with every byte not yet
    answered, to `fallback()` (aiohttp's protocol), which keeps it from then on.

    Pollers repeat the same request head byte for byte, so the answer to a head without
    If-Modified-Since (whose answer also depends on the clock) is kept by those bytes until
    `files` is replaced.

    Only use it in front of an app whose catch-all route is `files.handle` and that has no
    middlewares or response signals: the fast path skips them. `reserved` must list the
    path prefixes the app routes elsewhere (see `broadcaster.web.app`).
    """

    def __init__(
        self,
        files: StaticFiles,
        fallback: Callable[[], asyncio.BaseProtocol],
        *,
        reserved: Iterable[str] = (),
        keepalive_timeout: float = 75.0,
        head_timeout: float = HEAD_TIMEOUT,
    ) -> None:
        self.files = files
        self.fallback = fallback
        self.reserved = tuple(reserved)
        self.keepalive_timeout = keepalive_timeout
        self.head_timeout = head_timeout
        server = f"Server: {SERVER_SOFTWARE}\r\n".encode()
        self.tails = {False: server + b"\r\n", True: server + b"Connection: close\r\n\r\n"}
        self.clock = _Clock()
        self.connections: set[_FastConnection] = set()
        self._cache: dict[bytes, _Answer] = {}
        self._cached_for: _FileSet | None = None

    def __call__(self) -> asyncio.Protocol:
        return _FastConnection(self)

    def answer(self, head: bytes) -> _Answer | None:
        """The answer to a request head (without its final CRLF CRLF), or None for aiohttp."""
        current = self.files._set
        if current is not self._cached_for:
            self._cache.clear()
            self._cached_for = current
        known = self._cache.get(head)
        if known is not None:
            return known
        answer, cacheable = self._decide(head, current)
        if answer is not None and cacheable:
            if len(self._cache) >= _CACHE_SIZE:
                self._cache.clear()
            self._cache[head] = answer
        return answer

    def _decide(self, head: bytes, current: _FileSet) -> tuple[_Answer | None, bool]:
        lines = head.split(b"\r\n")
        request = _REQUEST_LINE.fullmatch(lines[0])
        if request is None:
            return None, False
        target = request.group(2)
        path = target.partition(b"?")[0].decode("ascii")
        static = current.routes.get(path)
        if static is None or b"%" in target or b"#" in target or path.startswith(self.reserved):
            return None, False
        if_none_match = if_modified_since = None
        close = False
        for line in lines[1:]:
            header = _HEADER_LINE.fullmatch(line)
            if header is None:
                return None, False
            name = header.group(1).lower()
            value = line[len(name) + 1 :].strip(b" \t")
            if name == b"if-none-match":
                if if_none_match is None:
                    if_none_match = value.decode("latin-1")
            elif name == b"if-modified-since":
                if if_modified_since is None:
                    if_modified_since = value.decode("latin-1")
            elif name == b"connection":
                if value.lower() == b"close":
                    close = True
                elif value.lower() != b"keep-alive":
                    return None, False
            elif name in _NOT_FAST:
                return None, False
        if static.is_not_modified(if_none_match, if_modified_since):
            answer = _Answer(static.head_304, self.tails[close], None, close)
        else:
            body = static.body if request.group(1) == b"GET" else None
            answer = _Answer(static.head_200, self.tails[close], body, close)
        return answer, if_modified_since is None

    def close(self) -> None:
        """Close every connection the fast path still holds (they are idle between requests)."""
        for connection in list(self.connections):
            connection.close()


class _FastConnection(asyncio.Protocol):
    __slots__ = ("buffer", "head_since", "idle_since", "owner", "paused", "timer", "transport")

    def __init__(self, owner: FastPath) -> None:
        self.owner = owner
        self.buffer = b""
        self.transport: asyncio.Transport | None = None
        self.paused = False
        self.idle_since = 0.0
        self.head_since: float | None = None  # when the head now being read began
        self.timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport, but have its methods.
        self.transport = cast(asyncio.Transport, transport)
        self.owner.connections.add(self)
        loop = asyncio.get_running_loop()
        self.idle_since = loop.time()
        if self.owner.keepalive_timeout > 0:
            self.timer = loop.call_at(self.idle_since + self.owner.keepalive_timeout, self._idle)

    def connection_lost(self, exc: Exception | None) -> None:
        self._forget()

    def pause_writing(self) -> None:
        # The client reads slower than it asks: stop reading until the buffer drains.
        assert self.transport is not None
        self.paused = True
        self.transport.pause_reading()

    def resume_writing(self) -> None:
        assert self.transport is not None
        self.paused = False
        self.transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        self.idle_since = asyncio.get_running_loop().time()
        if self.buffer:
            data = self.buffer + data
            self.buffer = b""
        owner = self.owner
        start = 0
        out: list[bytes] = []
        close = False
        while not close:
            end = data.find(b"\r\n\r\n", start, start + _MAX_HEAD + 4)
            if end < 0:
                break
            answer = owner.answer(data[start:end])
            if answer is None:
                break
            out += (answer.head, owner.clock.date_line(), answer.tail)
            if answer.body is not None:
                out.append(answer.body)
            close = answer.close
            start = end + 4
        if out:
            transport.writelines(out)
        if close:
            transport.close()
            self._forget()
            return
        rest = data[start:]
        if rest and (end >= 0 or len(rest) > _MAX_HEAD or not _may_be_fast(rest)):
            self._hand_over(rest)
        else:
            self.buffer = rest  # the start of a request the fast path may answer
            if not rest:
                self.head_since = None
            elif self.head_since is None or start > 0:
                self._head_started()

    def _head_started(self) -> None:
        """A request head began: it must be whole within `head_timeout` seconds."""
        loop = asyncio.get_running_loop()
        self.head_since = loop.time()
        if self.owner.head_timeout <= 0:
            return
        due = self.head_since + self.owner.head_timeout
        if self.timer is None or self.timer.when() > due:
            if self.timer is not None:
                self.timer.cancel()
            self.timer = loop.call_at(due, self._idle)

    def _hand_over(self, rest: bytes) -> None:
        """From now on aiohttp serves this connection, starting with `rest`."""
        transport = self.transport
        assert transport is not None
        self._forget()
        if self.paused:
            self.paused = False
            transport.resume_reading()
        protocol = self.owner.fallback()
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        cast(asyncio.Protocol, protocol).data_received(rest)

    def _idle(self) -> None:
        """Close the connection after `keepalive_timeout` seconds without a request, or
        with 408 when a request head has taken over `head_timeout` seconds."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        owner = self.owner
        deadlines = []
        if self.head_since is not None and owner.head_timeout > 0:
            head_due = self.head_since + owner.head_timeout
            if now >= head_due:
                if self.transport is not None and not self.transport.is_closing():
                    self.transport.writelines(
                        (_REQUEST_TIMEOUT, owner.clock.date_line(), owner.tails[True])
                    )
                self.close()
                return
            deadlines.append(head_due)
        if owner.keepalive_timeout > 0:
            due = self.idle_since + owner.keepalive_timeout
            if now >= due:
                self.close()
                return
            deadlines.append(due)
        self.timer = loop.call_at(min(deadlines), self._idle) if deadlines else None

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
        self._forget()

    def _forget(self) -> None:
        self.owner.connections.discard(self)
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


def _may_be_fast(head: bytes) -> bool:
    """Whether an incomplete request could still become one the fast path answers."""
    return b"GET /".startswith(head[:5]) or b"HEAD /".startswith(head[:6])

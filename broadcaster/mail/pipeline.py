"""Pipelined SMTP (RFC 2920) on a connection aiosmtplib opened: replies read as they come.

aiosmtplib waits for each reply before the next command; `Pipeline` takes over the
connection's transport (`transport.set_protocol`) so that MAIL, RCPT and DATA go out in
one write, and the message's content together with the next message's envelope.
"""

from __future__ import annotations

import asyncio
from collections import deque


class Dropped(Exception):
    """The connection closed; `replied` tells whether any reply to this message came."""

    def __init__(self, replied: bool) -> None:
        super().__init__("the SMTP connection was closed")
        self.replied = replied


class Pipeline(asyncio.Protocol):
    """Reads SMTP replies off a connection aiosmtplib opened; commands are pipelined."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        self._buffer = bytearray()
        self._replies: deque[tuple[int, str]] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._want = 0
        self.closed = False
        self._writable = asyncio.Event()
        self._writable.set()

    def data_received(self, data: bytes) -> None:
        self._buffer.extend(data)
        while (reply := self._parse()) is not None:
            self._replies.append(reply)
        self._wake()

    def _parse(self) -> tuple[int, str] | None:
        """Take one complete (possibly multi-line) reply off the buffer, if there is one."""
        start = 0
        lines: list[bytes] = []
        while True:
            end = self._buffer.find(b"\n", start)
            if end < 0:
                return None
            line = bytes(self._buffer[start : end + 1])
            lines.append(line)
            start = end + 1
            if line[3:4] != b"-":
                del self._buffer[:start]
                code = int(line[:3]) if line[:3].isdigit() else 0
                text = "\n".join(ln[4:].strip().decode("utf-8", "replace") for ln in lines)
                return code, text

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._writable.set()
        self._wake()

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()

    def _time_out(self) -> None:
        """No reply in time: treat the connection as lost."""
        self.transport.abort()
        self.closed = True
        self._wake()

    def _wake(self) -> None:
        if (
            self._waiter is not None
            and not self._waiter.done()
            and (len(self._replies) >= self._want or self.closed)
        ):
            self._waiter.set_result(None)

    async def exchange(self, data: bytes, count: int, wait: float) -> list[tuple[int, str]]:
        """Write `data` (if any), then wait up to `wait` s for `count` replies in all.

        Raises Dropped when the connection closes first.
        """
        if data:
            if self.closed:
                raise Dropped(replied=bool(self._replies))
            self.transport.write(data)
        if not self._writable.is_set():
            await self._writable.wait()
        if len(self._replies) < count and not self.closed:
            self._want = count
            self._waiter = asyncio.get_running_loop().create_future()
            timer = asyncio.get_running_loop().call_later(wait, self._time_out)
            try:
                await self._waiter
            finally:
                timer.cancel()
                self._waiter = None
        if len(self._replies) < count:
            raise Dropped(replied=bool(self._replies))
        return [self._replies.popleft() for _ in range(count)]

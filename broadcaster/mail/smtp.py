"""The `smtp` transport: a pool of reused connections to a relay, with a send rate.

Connections are opened with aiosmtplib (TLS, STARTTLS, EHLO, AUTH) and kept for the
next message. When the relay offers PIPELINING (RFC 2920), as Postfix does, the
connection's transport is handed to `Pipeline`, which sends MAIL, RCPT and DATA in one
write and the message with the next message's envelope in the next: one write per
message in a steady stream instead of four round trips, and none of aiosmtplib's
per-message regex passes (the bytes come dot-stuffed from the template).
Otherwise aiosmtplib's `sendmail` sends. Replies map to outcomes: 2xx is a receipt,
4xx and a connection lost mid-message are `RetryLater` (the outbox retries with the
same Message-ID), 5xx is `DeliveryRejected`. A connection found closed before a
message's first reply (the relay dropped it while idle) is reopened transparently.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from dataclasses import dataclass
from typing import Literal, cast

import aiosmtplib
from pydantic import BaseModel, ConfigDict, Field

from broadcaster.mail.pipeline import Dropped, Pipeline
from broadcaster.mail.ratelimit import RateLimit
from broadcaster.outbox.outcomes import DeliveryRejected, RetryLater

log = logging.getLogger(__name__)

SmtpOutcome = str | RetryLater | DeliveryRejected
# After a failed connect, messages fail fast (RetryLater) for this long instead of each
# waiting out its own connection timeout.
DOWN_FOR = 5.0


class SmtpOptions(BaseModel):
    """`smtp:` in an email channel file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=25, ge=1, le=65535)
    tls: Literal["none", "starttls", "tls"] = "none"
    username: str = ""
    password: str = Field(default="", json_schema_extra={"secret": True})
    timeout: float = Field(default=30, gt=0)
    # PEM file of the CAs to trust for the relay's certificate instead of the system's
    # (a private CA); relative paths are relative to the workspace. Certificates are
    # always verified when tls is starttls or tls.
    ca_file: str = ""


@dataclass(frozen=True)
class Outgoing:
    """One message for one recipient, as it is received (`message`) or ready for DATA
    (`stuffed`: leading dots doubled, CRLF.CRLF at the end); at least one of them."""

    sender: str
    recipient: str
    message: bytes | None = None
    stuffed: bytes | None = None

    def plain(self) -> bytes:
        """The message as the recipient receives it."""
        if self.message is not None:
            return self.message
        assert self.stuffed is not None
        return _STUFFED_DOT.sub(b"\r\n.", self.stuffed[:-3])

    def for_data(self) -> bytes:
        """The bytes to send after DATA's 354."""
        if self.stuffed is not None:
            return self.stuffed
        assert self.message is not None
        return aiosmtplib_stuff(self.message)


_STUFFED_DOT = re.compile(rb"\r\n\.\.")


def _outcome(code: int, text: str, where: str) -> SmtpOutcome:
    if 200 <= code < 300:
        return f"smtp {where}: {code} {text}".strip()
    if 400 <= code < 500:
        return RetryLater(f"SMTP {code} {text}".strip())
    return DeliveryRejected(f"SMTP {code} {text}".strip())


class _Connection:
    """One open connection: aiosmtplib's session, pipelined when the relay allows it."""

    def __init__(self, smtp: aiosmtplib.SMTP, where: str, timeout: float) -> None:
        self.smtp = smtp
        self.where = where
        self.timeout = timeout
        self.eightbit = smtp.supports_extension("8bitmime")
        self.pipeline: Pipeline | None = None
        transport = smtp.transport
        # uvloop's transports have asyncio.Transport's methods without subclassing it.
        if smtp.supports_extension("pipelining") and hasattr(transport, "set_protocol"):
            self.pipeline = Pipeline(cast(asyncio.Transport, transport))
            self.pipeline.transport.set_protocol(self.pipeline)

    @property
    def alive(self) -> bool:
        if self.pipeline is not None:
            return not self.pipeline.closed
        return self.smtp.is_connected

    def _envelope(self, item: Outgoing) -> bytes:
        body = b" BODY=8BITMIME" if self.eightbit else b""
        return b"MAIL FROM:<%s>%s\r\nRCPT TO:<%s>\r\nDATA\r\n" % (
            item.sender.encode(),
            body,
            item.recipient.encode(),
        )

    async def send(
        self, item: Outgoing, *, enveloped: bool = False, follow: Outgoing | None = None
    ) -> tuple[SmtpOutcome, bool]:
        """Send one message; raises Dropped when the connection goes away.

        Pipelined, the next message's envelope (`follow`) goes out in the same write as
        this one's content, so a steady stream costs one write and one wake-up per
        message; the second value tells whether that happened (then send `follow` with
        `enveloped=True`). `enveloped`: this message's envelope was already written.
        """
        if self.pipeline is None:
            return await self._send_plain(item), False
        pipeline, wait = self.pipeline, self.timeout
        replies = await pipeline.exchange(b"" if enveloped else self._envelope(item), 3, wait)
        (mail, mail_text), (rcpt, rcpt_text), (data, data_text) = replies
        refused = next(
            (r for r in ((mail, mail_text), (rcpt, rcpt_text)) if not 200 <= r[0] < 300), None
        )
        if refused is not None or data != 354:
            if data == 354:  # accepted DATA despite the refusal: end it empty, then reset
                await pipeline.exchange(b".\r\n", 1, wait)
            await pipeline.exchange(b"RSET\r\n", 1, wait)
            code, text = refused or (data, data_text)
            return _outcome(code, text, self.where), False
        payload = item.for_data()
        if follow is not None:
            payload += self._envelope(follow)
        try:
            ((code, text),) = await pipeline.exchange(payload, 1, wait)
        except Dropped as exc:
            raise Dropped(replied=True) from exc
        return _outcome(code, text, self.where), follow is not None

    async def _send_plain(self, item: Outgoing) -> SmtpOutcome:
        options = ["BODY=8BITMIME"] if self.eightbit else []
        try:
            _, reply = await self.smtp.sendmail(
                item.sender, [item.recipient], item.plain(), mail_options=options
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            refusal = exc.recipients[0] if exc.recipients else None
            if refusal is None:
                return RetryLater(str(exc))
            await self._reset()
            return _outcome(refusal.code, refusal.message, self.where)
        except aiosmtplib.SMTPServerDisconnected as exc:
            raise Dropped(replied=True) from exc
        except aiosmtplib.SMTPResponseException as exc:
            await self._reset()
            return _outcome(exc.code, exc.message, self.where)
        return f"smtp {self.where}: {reply}"

    async def _reset(self) -> None:
        with contextlib.suppress(aiosmtplib.SMTPException, OSError):
            await self.smtp.rset()

    async def close(self) -> None:
        if self.pipeline is not None:
            if not self.pipeline.closed:
                with contextlib.suppress(Dropped, OSError):
                    await self.pipeline.exchange(b"QUIT\r\n", 1, 2.0)
                self.pipeline.transport.close()
            return
        with contextlib.suppress(aiosmtplib.SMTPException, OSError):
            await self.smtp.quit(timeout=2.0)
        self.smtp.close()


def aiosmtplib_stuff(message: bytes) -> bytes:
    """A message ready for DATA: CRLF line ends, leading dots doubled, CRLF.CRLF at the end."""
    from aiosmtplib.protocol import PERIOD_REGEX, normalize_message_line_endings

    return PERIOD_REGEX.sub(b"..", normalize_message_line_endings(message)) + b".\r\n"


class SmtpPool:
    """Up to `size` connections to one relay, opened on demand and reused; a send rate."""

    def __init__(self, options: SmtpOptions, size: int, rate_per_second: float = 0) -> None:
        self.options = options
        self.size = size
        self.rate = RateLimit(rate_per_second)
        self.where = f"{options.host}:{options.port}"
        self.opened = 0  # connections opened so far (tests and metrics)
        self.pipelined = 0  # of those, how many pipeline (RFC 2920)
        self._queue: asyncio.Queue[tuple[Outgoing, asyncio.Future[SmtpOutcome]]] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._down_until = 0.0
        self._closing = False

    async def send_one(self, item: Outgoing) -> SmtpOutcome:
        """Send one message over the pool; the outcome, never an exception."""
        return await self.submit(item)

    def submit(self, item: Outgoing) -> asyncio.Future[SmtpOutcome]:
        """Queue one message; the future resolves to its outcome (RetryLater once the pool
        is closed: a batch still running on a channel a reload replaced tries again)."""
        future: asyncio.Future[SmtpOutcome] = asyncio.get_running_loop().create_future()
        if self._closing:
            future.set_result(RetryLater("the SMTP pool was closed"))
            return future
        if len(self._tasks) < self.size:
            index = len(self._tasks)
            self._tasks.append(asyncio.create_task(self._run(), name=f"smtp-{self.where}-{index}"))
        self._queue.put_nowait((item, future))
        return future

    async def close(self) -> None:
        """Stop the connection tasks; messages still queued get RetryLater."""
        self._closing = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        while not self._queue.empty():
            _, future = self._queue.get_nowait()
            if not future.done():
                future.set_result(RetryLater("the SMTP pool was closed"))

    async def _connect(self) -> _Connection:
        o = self.options
        smtp = aiosmtplib.SMTP(
            hostname=o.host,
            port=o.port,
            use_tls=o.tls == "tls",
            start_tls=o.tls == "starttls",
            username=o.username or None,
            password=o.password or None,
            timeout=o.timeout,
            validate_certs=True,
            cert_bundle=o.ca_file or None,
        )
        await smtp.connect()
        if smtp.is_ehlo_or_helo_needed:  # aiosmtplib says EHLO lazily; we need its answer
            await smtp.ehlo()
        self.opened += 1
        connection = _Connection(smtp, self.where, o.timeout)
        self.pipelined += connection.pipeline is not None
        return connection

    async def _run(self) -> None:
        connection: _Connection | None = None
        # A message taken from the queue to ride along with the one before, and whether
        # its envelope already went out on `connection`.
        carried: tuple[Outgoing, asyncio.Future[SmtpOutcome]] | None = None
        enveloped = False
        in_hand: list[asyncio.Future[SmtpOutcome]] = []  # taken off the queue, not yet settled
        try:
            while True:
                if carried is None:
                    item, future = await self._queue.get()
                    enveloped = False
                    in_hand = [future]
                    await self.rate.wait()
                else:
                    (item, future), carried = carried, None
                if future.done():
                    continue
                follow = None
                if (
                    self.rate.per_second <= 0
                    and connection is not None
                    and connection.pipeline is not None
                    and not self._queue.empty()
                ):
                    follow = self._queue.get_nowait()
                    in_hand.append(follow[1])
                outcome, connection, chained = await self._deliver(
                    item, connection, enveloped, follow[0] if follow else None
                )
                if not future.done():
                    future.set_result(outcome)
                carried, enveloped = follow, chained
                in_hand = [follow[1]] if follow else []
        finally:
            # Cancelled (the pool is closing): nobody may wait forever for these.
            for waiting in in_hand:
                if not waiting.done():
                    waiting.set_result(RetryLater("the SMTP pool was closed"))
            if connection is not None:
                with contextlib.suppress(Exception):
                    await asyncio.shield(connection.close())

    async def _deliver(
        self,
        item: Outgoing,
        connection: _Connection | None,
        enveloped: bool,
        follow: Outgoing | None,
    ) -> tuple[SmtpOutcome, _Connection | None, bool]:
        """(outcome, the connection to keep, whether `follow`'s envelope went out on it)."""
        for _ in range(2):  # a second go only when an idle connection turned out closed
            if connection is None or not connection.alive:
                enveloped = False
                if time.monotonic() < self._down_until:
                    return RetryLater(f"SMTP relay {self.where} is not answering"), None, False
                try:
                    connection = await self._connect()
                except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                    self._down_until = time.monotonic() + DOWN_FOR
                    log.warning("cannot connect to SMTP relay %s: %s", self.where, exc)
                    return RetryLater(f"SMTP relay {self.where}: {exc}"), None, False
            try:
                outcome, chained = await connection.send(item, enveloped=enveloped, follow=follow)
                return outcome, connection, chained
            except Dropped as exc:
                connection, enveloped = None, False
                if exc.replied:
                    error = f"SMTP relay {self.where} closed the connection"
                    return RetryLater(error), None, False
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                return RetryLater(f"SMTP relay {self.where}: {exc}"), None, False
        return RetryLater(f"SMTP relay {self.where} keeps closing connections"), None, False

"""The store goes away in the middle of a fan-out (a TCP proxy in front of PostgreSQL cuts
every connection and refuses new ones for a few seconds): sending pauses once the sends
that cannot be recorded reach the bound, resumes when the store is back, and every
citizen gets the message, at most the in-flight few twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator
from email import message_from_bytes
from pathlib import Path

import pytest
import pytest_asyncio
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SmtpServer
from aiosmtpd.smtp import Envelope, Session
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from broadcaster.outbox.tables import deliveries
from broadcaster.store.testing import TEST_DATABASE_ENV, postgres_database, postgres_url
from broadcaster.subscribers.bulk import import_subscribers
from broadcaster.subscribers.csvio import CsvSubscriber
from broadcaster.workspace.models import Frequency
from tests.conftest import copy_workspace
from tests.mail.conftest import SECRET, TOPICS, free_port, make_rig

SUBSCRIBERS = 1500
CUT_AT = 500
OUTAGE = 4.0  # seconds
IN_FLIGHT_BOUND = 50

pytestmark = pytest.mark.postgres


class Proxy:
    """A TCP proxy to PostgreSQL that can cut every connection and refuse new ones."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.up = True
        self.links: set[asyncio.StreamWriter] = set()
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.up:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self.links |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self.links -= {writer, up_writer}

    def cut(self) -> None:
        self.up = False
        for writer in list(self.links):
            writer.transport.abort()
        self.links.clear()

    async def close(self) -> None:
        self.cut()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


class Counting:
    """Counts every message per recipient; calls `at_count` once, at the `count`-th."""

    def __init__(self, count: int, at_count: object) -> None:
        self.count = count
        self.at_count = at_count
        self.lock = threading.Lock()
        self.received: list[tuple[str, str]] = []

    async def handle_DATA(self, server: SmtpServer, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        message_id = str(message_from_bytes(envelope.content)["Message-ID"])
        with self.lock:
            self.received += [(r, message_id) for r in envelope.rcpt_tos]
            if len(self.received) == self.count:
                assert callable(self.at_count)
                self.at_count()
        return "250 OK"


@pytest_asyncio.fixture
async def pg_url() -> AsyncIterator[str]:
    url = postgres_url()
    if url is None:
        pytest.skip(f"{TEST_DATABASE_ENV} is not set, e.g. postgresql+asyncpg://postgres@/test")
    yield url


async def test_a_store_outage_mid_fan_out_loses_nothing_and_resends_at_most_in_flight(
    tmp_path: Path, pg_url: str
) -> None:
    loop = asyncio.get_running_loop()
    server = make_url(pg_url)
    proxy = Proxy(server.host or "127.0.0.1", server.port or 5432)
    await proxy.start()
    was_cut = asyncio.Event()

    def cut() -> None:
        loop.call_soon_threadsafe(proxy.cut)
        loop.call_soon_threadsafe(was_cut.set)

    handler = Counting(CUT_AT, cut)
    port = free_port()
    smtp = Controller(handler, hostname="127.0.0.1", port=port)
    smtp.start()
    try:
        async with postgres_database(pg_url) as database:
            direct = database.engine()
            proxied = type(database)(
                make_url(pg_url).set(host="127.0.0.1", port=proxy.port).render_as_string(False),
                database.options,
            ).engine()
            root = copy_workspace(tmp_path / "ws")
            env = {
                "MAIL_TRANSPORT": "smtp",
                "SMTP_PORT": str(port),
                "BROADCASTER_SECRET_KEY": "k" * 40,
            }
            rig = await make_rig(root, env, engine=proxied)
            try:
                rows = [
                    CsvSubscriber(
                        n + 2, f"citizen{n}@example.vn", "vi", TOPICS, Frequency.IMMEDIATE
                    )
                    for n in range(SUBSCRIBERS)
                ]
                await import_subscribers(direct, SECRET, rows, confirmed=True, note="test")
                await rig.publish()
                rig.workers.start()
                async with asyncio.timeout(60):
                    await was_cut.wait()
                await asyncio.sleep(OUTAGE)
                with handler.lock:
                    during = len(handler.received)
                proxy.up = True

                async def delivered() -> int:
                    d = deliveries.c
                    query = select(func.count()).where(
                        d.status == "delivered", d.channel == "citizens"
                    )
                    async with direct.connect() as conn:
                        return int((await conn.execute(query)).scalar_one())

                deadline = time.monotonic() + 90
                while await delivered() < SUBSCRIBERS:
                    assert time.monotonic() < deadline, "the fan-out did not finish"
                    await asyncio.sleep(0.2)
                await rig.workers.stop(5)
            finally:
                await rig.close()
                await direct.dispose()
    finally:
        smtp.stop()
        await proxy.close()

    received = list(handler.received)
    copies = Counter(recipient for recipient, _ in received)
    assert len(copies) == SUBSCRIBERS, "every citizen gets the message"
    assert all(len({m for r, m in received if r == who}) == 1 for who in list(copies)[:50])
    # While the store was away, sending stopped within the bound.
    assert during - CUT_AT <= IN_FLIGHT_BOUND, f"{during - CUT_AT} sent during the outage"
    duplicates = len(received) - SUBSCRIBERS
    print(f"{during - CUT_AT} sent during the outage; {duplicates} sent twice")
    assert duplicates <= IN_FLIGHT_BOUND, f"{duplicates} sent twice (bound {IN_FLIGHT_BOUND})"

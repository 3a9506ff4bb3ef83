"""A real SMTP server (aiosmtpd) that can misbehave on cue, and a service-like rig around it.

The rig is the fixture workspace copied to a temp folder, a migrated SQLite store
with the real subscriber store and token signer, the publisher and the delivery workers:
what `serve` runs, minus the web and the scheduler.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import textwrap
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SmtpServer
from aiosmtpd.smtp import Envelope, Session
from sqlalchemy.ext.asyncio import AsyncEngine

from broadcaster.channels import Channel, build_channels
from broadcaster.outbox.content import ContentStore
from broadcaster.outbox.outbox import Outbox
from broadcaster.outbox.tables import PublicationSource
from broadcaster.outbox.workers import Workers, WorkerSettings
from broadcaster.publishing.publisher import Publisher
from broadcaster.settings import Settings
from broadcaster.store import upgrade_engine
from broadcaster.store.engine import dispose_engine
from broadcaster.store.testing import sqlite_database
from broadcaster.subscribers.store import SqlSubscriberStore
from broadcaster.subscribers.tokens import SignedTokens
from broadcaster.workspace.load import load_workspace
from broadcaster.workspace.models import Frequency, Workspace
from tests.conftest import copy_workspace

SECRET = b"test-secret-key-for-mail-tests-0123456789"
CAMPAIGN = "online-submission"
TOPICS = ("online-services",)


@dataclass
class Received:
    sender: str
    recipients: list[str]
    data: bytes
    dropped: bool = False


@dataclass
class Handler:
    """Records what arrives; scripted replies per recipient address, used up in order."""

    pipelining: bool = False
    received: list[Received] = field(default_factory=list)
    sessions: set[int] = field(default_factory=set)
    rcpt_replies: dict[str, list[str]] = field(default_factory=dict)
    data_replies: dict[str, list[str]] = field(default_factory=dict)
    drop_after_data: set[str] = field(default_factory=set)
    stall_data: bool = False  # never answer a message's content (in time)
    delay: float = 0.0  # seconds before answering each message's content: a slow relay

    async def handle_EHLO(
        self,
        server: SmtpServer,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        session.host_name = hostname
        self.sessions.add(id(session))
        if self.pipelining:
            responses.insert(1, "250-PIPELINING")
        return responses

    async def handle_RCPT(
        self,
        server: SmtpServer,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        script = self.rcpt_replies.get(address)
        if script:
            return script.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SmtpServer, session: Session, envelope: Envelope) -> str:
        if self.stall_data:
            await asyncio.sleep(30)  # in the server's thread; the test is over long before
        await asyncio.sleep(self.delay)
        rcpt = envelope.rcpt_tos[0]
        content = envelope.original_content or b""
        sender = str(envelope.mail_from)
        if rcpt in self.drop_after_data:
            self.drop_after_data.discard(rcpt)
            self.received.append(Received(sender, list(envelope.rcpt_tos), content, True))
            assert server.transport is not None
            server.transport.close()
            return "250 never seen by the client"
        script = self.data_replies.get(rcpt)
        if script:
            return script.pop(0)
        self.received.append(Received(sender, list(envelope.rcpt_tos), content))
        return "250 OK queued"

    def delivered(self) -> list[Received]:
        return [r for r in self.received if not r.dropped]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def relay(handler: Handler) -> Iterator[tuple[Handler, int]]:
    """`handler` behind aiosmtpd on a free loopback port, in its own thread: (it, the port)."""
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


@pytest.fixture
def handler() -> Handler:
    return Handler()


@pytest.fixture
def smtp_server(handler: Handler) -> Iterator[Controller]:
    """aiosmtpd on a free loopback port, in its own thread."""
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller
    finally:
        controller.stop()


@dataclass
class Rig:
    root: Path
    settings: Settings
    workspace: Workspace
    engine: AsyncEngine
    outbox: Outbox
    content: ContentStore
    store: SqlSubscriberStore
    tokens: SignedTokens
    channels: dict[str, Channel]
    workers: Workers
    publisher: Publisher

    async def subscribe(self, email: str, locale: str = "vi") -> int:
        """A confirmed subscriber of the campaign's topics who wants each publication."""
        outcome = await self.store.request(
            email, locale=locale, topics=TOPICS, frequency=Frequency.IMMEDIATE, ip=None, form="web"
        )
        assert outcome.subscriber_id is not None
        assert await self.store.confirm(outcome.subscriber_id, ip=None)
        return outcome.subscriber_id

    async def publish(self, channel: str = "citizens") -> int:
        published = await self.publisher.publish(CAMPAIGN, [channel], source=PublicationSource.CLI)
        return published.publication_id

    async def close(self) -> None:
        for channel in self.channels.values():
            close = getattr(channel, "close", None)
            if close is not None:
                await close()
        await dispose_engine(self.engine)


def write_channel(root: Path, name: str, body: str) -> None:
    (root / "channels" / f"{name}.yaml").write_text(textwrap.dedent(body), encoding="utf-8")


async def make_rig(
    root: Path, env: dict[str, str], engine: AsyncEngine | None = None, **worker: Any
) -> Rig:
    settings = Settings.from_environ(
        root, {"BROADCASTER_BASE_URL": "https://tb.example.gov.vn", **env}
    )
    workspace, diagnostics = load_workspace(root, settings)
    assert workspace is not None, diagnostics.errors
    if engine is None:
        engine = sqlite_database(root / "db").engine()
    await upgrade_engine(engine)
    # No backoff: a temporary failure is due again at once, so run_until_idle retries it.
    outbox = Outbox(engine, jitter=lambda: 0.0)
    content = ContentStore(engine)
    store = SqlSubscriberStore(engine, SECRET)
    tokens = SignedTokens(SECRET)
    channels = build_channels(workspace, settings, subscribers=store, tokens=tokens)
    workers = Workers(outbox, content, channels, WorkerSettings(**worker))
    publisher = Publisher(outbox, content, settings)
    publisher.use(workspace, channels)
    return Rig(
        root,
        settings,
        workspace,
        engine,
        outbox,
        content,
        store,
        tokens,
        channels,
        workers,
        publisher,
    )


@pytest_asyncio.fixture
async def smtp_rig(tmp_path: Path, smtp_server: Controller) -> AsyncIterator[Rig]:
    """The workspace's `citizens` channel sending through the aiosmtpd server."""
    root = copy_workspace(tmp_path / "ws")
    env = {
        "MAIL_TRANSPORT": "smtp",
        "SMTP_PORT": str(smtp_server.port),
        "BROADCASTER_SECRET_KEY": "k" * 40,
    }
    rig = await make_rig(root, env)
    yield rig
    await rig.close()


def pipelined_sends(channel: object) -> bool:
    """True when the channel's SMTP connections were taken over for pipelining."""
    sender = getattr(getattr(channel, "outbound", None), "_sender", None)
    pool = getattr(getattr(sender, "transport", None), "pool", None)
    return bool(pool is not None and getattr(pool, "pipelined", 0))

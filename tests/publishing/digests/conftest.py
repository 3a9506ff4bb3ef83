"""A workspace, the real store (SQLite and PostgreSQL) and a publisher wired for digests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from broadcaster.channels import build_channels
from broadcaster.outbox.content import ContentStore
from broadcaster.outbox.outbox import Outbox
from broadcaster.outbox.tables import PublicationSource, deliveries, publications
from broadcaster.publishing.digests import DigestFired, Digests, StoreAudience
from broadcaster.publishing.publisher import Publisher
from broadcaster.settings import Settings
from broadcaster.store.testing import (
    ManualClock,
)
from broadcaster.subscribers.store import SqlSubscriberStore
from broadcaster.subscribers.tokens import SignedTokens
from broadcaster.workspace.load import load_workspace
from broadcaster.workspace.models import Frequency, Schedule, Workspace

SECRET = b"d" * 32
HCM = ZoneInfo("Asia/Ho_Chi_Minh")
BASE_URL = "https://thongbao.example.gov.vn"


@dataclass
class World:
    """One process of Broadcaster as far as digests go, on a hand-moved clock."""

    workspace: Workspace
    settings: Settings
    engine: AsyncEngine
    clock: ManualClock
    outbox: Outbox
    content: ContentStore
    store: SqlSubscriberStore
    publisher: Publisher

    @classmethod
    def open(
        cls, workspace: Workspace, settings: Settings, engine: AsyncEngine, clock: ManualClock
    ) -> World:
        outbox = Outbox(engine, clock=clock)
        content = ContentStore(engine)
        store = SqlSubscriberStore(engine, SECRET, clock)
        digests = Digests(outbox, content, StoreAudience(store, engine), settings)
        publisher = Publisher(outbox, content, settings, clock=clock, digests=digests)
        tokens = SignedTokens(SECRET, clock)
        channels = build_channels(
            workspace, settings, subscribers=store, tokens=tokens, history=outbox
        )
        publisher.use(workspace, channels)
        return cls(workspace, settings, engine, clock, outbox, content, store, publisher)

    @classmethod
    def reload(cls, world: World) -> World:
        """The same store and clock with the workspace read again from its files."""
        return cls.open(
            loaded(world.workspace.root, world.settings), world.settings, world.engine, world.clock
        )

    def at(self, moment: datetime) -> None:
        self.clock.now = moment.astimezone(UTC)

    async def subscriber(
        self, email: str, topics: list[str], frequency: Frequency, locale: str = "vi"
    ) -> int:
        outcome = await self.store.request(
            email, locale=locale, topics=topics, frequency=frequency, ip=None, form="web"
        )
        assert outcome.subscriber_id is not None
        assert await self.store.confirm(outcome.subscriber_id, ip=None)
        return outcome.subscriber_id

    async def publish(self, campaign: str) -> int:
        published = await self.publisher.publish(
            campaign, ["citizens"], source=PublicationSource.CLI
        )
        return published.publication_id

    def schedule(self, schedule_id: str) -> Schedule:
        return next(s for s in self.workspace.schedules if s.id == schedule_id)

    async def fire(self, schedule_id: str, fire_time: datetime) -> DigestFired:
        self.at(fire_time)
        fired = await self.publisher.fire_digest(self.schedule(schedule_id), fire_time)
        assert fired is not None
        return fired

    async def digests_sent(self, publication_id: int) -> dict[int, EmailMessage]:
        """Subscriber id -> the digest email their delivery would send."""
        d = deliveries.c
        query = select(d.recipient, d.locale, d.channel).where(d.publication_id == publication_id)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        sent: dict[int, EmailMessage] = {}
        for row in rows:
            body = await self.content.rendition(publication_id, row.channel, row.locale)
            assert body is not None, f"no rendition for {row.locale}"
            message = message_from_bytes(body, policy=policy.default)
            assert isinstance(message, EmailMessage)
            sent[int(row.recipient)] = message
        return sent

    async def publication_ids(self, schedule_id: str) -> list[int]:
        p = publications.c
        query = select(p.id).where(p.schedule_id == schedule_id).order_by(p.id)
        async with self.engine.connect() as conn:
            return [row.id for row in await conn.execute(query)]


@pytest.fixture
def settings(workspace: Path) -> Settings:
    environ = {"BROADCASTER_BASE_URL": BASE_URL, "BROADCASTER_SECRET_KEY": SECRET.decode()}
    return Settings.from_environ(workspace, environ)


def loaded(root: Path, settings: Settings) -> Workspace:
    workspace, diag = load_workspace(root, settings, now=datetime(2021, 7, 9, tzinfo=HCM))
    assert workspace is not None, diag.errors
    return workspace


@pytest.fixture
def world(workspace: Path, settings: Settings, engine: AsyncEngine) -> World:
    return World.open(loaded(workspace, settings), settings, engine, ManualClock())


def text_of(message: EmailMessage) -> str:
    """The plain-text part of a digest."""
    part = message.get_body(("plain",))
    assert part is not None
    content: str = part.get_content()
    return content

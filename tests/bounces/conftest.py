"""Fixtures: the real subscriber store on SQLite and PostgreSQL, and a bounce processor."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine

from broadcaster.bounces import BounceProcessor
from broadcaster.models import Frequency
from broadcaster.store import upgrade_engine
from broadcaster.store.testing import (
    TEST_DATABASE_ENV,
    ManualClock,
    ScratchDatabase,
    postgres_database,
    postgres_url,
    sqlite_database,
)
from broadcaster.subscribers.store import SqlSubscriberStore

from .messages import SECRET, read_verp


@pytest_asyncio.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def database(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[ScratchDatabase]:
    """An empty database of each dialect; PostgreSQL skips when no server is configured."""
    if request.param == "sqlite":
        yield sqlite_database(tmp_path)
        return
    url = postgres_url()
    if url is None:
        pytest.skip(f"{TEST_DATABASE_ENV} is not set, e.g. postgresql+asyncpg://postgres@/test")
    async with postgres_database(url) as database:
        yield database


@pytest_asyncio.fixture
async def engine(database: ScratchDatabase) -> AsyncIterator[AsyncEngine]:
    engine = database.engine()
    await upgrade_engine(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
def store(engine: AsyncEngine) -> SqlSubscriberStore:
    return SqlSubscriberStore(engine, SECRET, ManualClock())


@pytest.fixture
def processor(store: SqlSubscriberStore) -> BounceProcessor:
    return BounceProcessor(store, read_verp)


async def subscribe(store: SqlSubscriberStore, email: str) -> int:
    """A confirmed subscriber; returns their id."""
    outcome = await store.request(
        email,
        locale="vi",
        topics=["online-services"],
        frequency=Frequency.IMMEDIATE,
        ip=None,
        form="web",
    )
    assert outcome.subscriber_id is not None
    assert await store.confirm(outcome.subscriber_id, ip=None)
    return outcome.subscriber_id

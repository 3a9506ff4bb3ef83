"""Fixtures that run every subscriber store test on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine

from broadcaster.outbox import Outbox
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
from broadcaster.subscribers.tokens import SignedTokens

SECRET = b"s" * 32


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
    """An engine on a migrated database."""
    engine = database.engine()
    await upgrade_engine(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def store(engine: AsyncEngine, clock: ManualClock) -> SqlSubscriberStore:
    return SqlSubscriberStore(engine, SECRET, clock)


@pytest.fixture
def outbox(engine: AsyncEngine, clock: ManualClock) -> Outbox:
    return Outbox(engine, clock=clock)


@pytest.fixture
def tokens(clock: ManualClock) -> SignedTokens:
    return SignedTokens(SECRET, clock)

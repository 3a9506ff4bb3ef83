"""Fixtures that run every store and outbox test on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine

from broadcaster.outbox import Outbox, RetryPolicy
from broadcaster.store import upgrade_engine
from broadcaster.store.testing import (
    TEST_DATABASE_ENV,
    ManualClock,
    ScratchDatabase,
    postgres_database,
    postgres_url,
    sqlite_database,
)


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
def retry() -> RetryPolicy:
    return RetryPolicy(max_attempts=4, base=timedelta(seconds=10), cap=timedelta(seconds=60))


@pytest.fixture
def outbox(engine: AsyncEngine, clock: ManualClock, retry: RetryPolicy) -> Outbox:
    """An outbox on the manual clock whose backoff always waits the full ceiling."""
    return Outbox(engine, clock=clock, retry=retry, jitter=lambda: 1.0)

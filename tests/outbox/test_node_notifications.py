"""Word between nodes on one store: NOTIFY on PostgreSQL (from the application and from the
migration's triggers), reconnecting; nothing on SQLite; and the workspace write lock."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from broadcaster.outbox.outbox import Outbox
from broadcaster.outbox.tables import PublicationSource
from broadcaster.store import create_engine, upgrade_engine
from broadcaster.store.engine import dispose_engine
from broadcaster.store.locks import workspace_lock
from broadcaster.store.notify import PUBLIC, WORKSPACE, Notifications
from broadcaster.store.notify import listening as store_listening
from broadcaster.store.testing import (
    TEST_DATABASE_ENV,
    ScratchDatabase,
    postgres_fresh_database,
    postgres_url,
    sqlite_database,
)

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def pg_engine() -> AsyncIterator[AsyncEngine]:
    """A migrated PostgreSQL database of its own (NOTIFY is PostgreSQL's, and reaches every
    listener of a database: other tests' nodes must not hear these)."""
    url = postgres_url()
    if url is None:
        pytest.skip(f"{TEST_DATABASE_ENV} is not set, e.g. postgresql+asyncpg://postgres@/test")
    async with postgres_fresh_database(url) as fresh:
        engine = create_engine(fresh)
        await upgrade_engine(engine)
        yield engine
        await dispose_engine(engine)


@contextlib.asynccontextmanager
async def listening(notifications: Notifications) -> AsyncIterator[Notifications]:
    task = asyncio.create_task(notifications.run())
    try:
        deadline = time.monotonic() + 10
        while notifications.enabled and not notifications.listening:
            assert time.monotonic() < deadline, "not listening after 10 s"
            await asyncio.sleep(0.02)
        yield notifications
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_on_sqlite_nothing_is_sent_and_followers_keep_polling(tmp_path: Path) -> None:
    engine = sqlite_database(tmp_path).engine()
    try:
        await upgrade_engine(engine)
        node = Notifications(engine)
        async with listening(node):
            assert not node.enabled
            assert not node.listening  # followers poll
            await node.send(WORKSPACE)  # a no-op, not an error
            assert not await node.wait(WORKSPACE, 0.05)
    finally:
        await dispose_engine(engine)


@pytest.mark.postgres
async def test_a_node_hears_the_others_reload_but_not_its_own(pg_engine: AsyncEngine) -> None:
    engine = pg_engine
    a, b = Notifications(engine), Notifications(engine)
    async with listening(a), listening(b):
        started = time.monotonic()
        await a.send(WORKSPACE)
        assert await b.wait(WORKSPACE, 5)
        assert time.monotonic() - started < 2
        assert not await a.wait(WORKSPACE, 0.3)  # its own word


@pytest.mark.postgres
async def test_website_deliveries_going_out_and_withdrawals_are_announced_by_the_store(
    pg_engine: AsyncEngine,
) -> None:
    engine = pg_engine
    node = Notifications(engine)
    outbox = Outbox(engine)
    async with listening(node):
        publication_id, _ = await outbox.create_publication(
            "online-submission", "rev1", ["website", "citizens"], source=PublicationSource.ADMIN
        )
        items = [("website", "", "vi"), ("citizens", "lan@example.vn", "vi")]
        await outbox.enqueue(publication_id, items)
        claimed = await outbox.claim("w1", 10, timedelta(seconds=30))
        by_channel = {d.channel: d for d in claimed}
        # An email delivered says nothing (every node need not rebuild for it) ...
        assert await outbox.complete(by_channel["citizens"].id, "w1")
        assert not await node.wait(PUBLIC, 0.5)
        # ... the website's does.
        assert await outbox.complete(by_channel["website"].id, "w1")
        assert await node.wait(PUBLIC, 5)
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO withdrawals (campaign_id, revision, reason, at) "
                    "VALUES ('online-submission', 'rev1', 'wrong number', now())"
                )
            )
        assert await node.wait(PUBLIC, 5)


@pytest.mark.postgres
async def test_a_dropped_listening_connection_reconnects_and_says_to_look_again(
    pg_engine: AsyncEngine,
) -> None:
    engine = pg_engine
    a, b = Notifications(engine), Notifications(engine)
    async with listening(a), listening(b):
        async with engine.begin() as conn:  # the DBA, or a failover, drops b's connection
            await conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE query LIKE 'LISTEN %' AND pid <> pg_backend_pid() "
                    "AND datname = current_database()"  # this test's nodes only
                )
            )
        # Back within seconds, it tells its followers to look (they may have missed word).
        assert await b.wait(WORKSPACE, 10)
        assert await b.wait(PUBLIC, 1)
        assert b.listening
        await a.send(WORKSPACE)
        assert await b.wait(WORKSPACE, 5)


async def test_the_workspace_lock_lets_one_node_write_at_a_time(
    database: ScratchDatabase, engine: AsyncEngine
) -> None:
    other = database.engine()  # another node's engine on the same store
    order: list[str] = []
    try:
        async with workspace_lock(engine):
            order.append("a holds")
            waiting = asyncio.create_task(_hold(other, order))
            await asyncio.sleep(0.3)
            assert not waiting.done()  # b waits for a
            order.append("a releases")
        await asyncio.wait_for(waiting, 10)
    finally:
        await other.dispose()
    assert order == ["a holds", "a releases", "b holds"]


async def _hold(engine: AsyncEngine, order: list[str]) -> None:
    async with workspace_lock(engine):
        order.append("b holds")


@pytest.mark.postgres
async def test_a_node_that_read_the_workspace_before_it_listened_looks_again(
    pg_engine: AsyncEngine,
) -> None:
    """A node that started while its listening connection was not up yet (it read the
    workspace first) may have missed another node's reload: once listening, it looks again.
    A node that listened before it read looks only when told."""
    engine = pg_engine
    async with store_listening(engine) as early:
        assert early.listening
        early.reading()  # read after listening: nothing could be missed
        assert not await early.wait(WORKSPACE, 0.3)
    late = Notifications(engine)
    late.reading()  # read before listening (the store was slow to answer)
    async with listening(late):
        assert await late.wait(WORKSPACE, 5)
        assert await late.wait(PUBLIC, 1)

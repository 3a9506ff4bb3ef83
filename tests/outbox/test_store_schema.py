"""Migrations, engines and column types on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, text
from sqlalchemy.engine import Connection

from broadcaster.outbox.outbox import Outbox
from broadcaster.outbox.records import load_publications
from broadcaster.outbox.tables import PublicationKind, PublicationSource, publications
from broadcaster.store import create_engine, current_revision, head_revision, upgrade
from broadcaster.store.registry import metadata  # every wing's tables
from broadcaster.store.testing import ManualClock, ScratchDatabase, sqlite_database

pytestmark = pytest.mark.asyncio

TABLES = {
    "publications",
    "schedule_firings",
    "deliveries",
    "delivery_attempts",
    "renditions",
    "subscribers",
    "consents",
    "suppressions",
    "counted_bounces",
    "partners",
    "webhook_events",
    "websub_subscriptions",
    "users",
    "editor_drafts",
    "staff_sessions",
    "api_tokens",
    "campaign_edits",
    "reviews",
    "held_publications",
    "withdrawals",
    "audit_log",
    "fanpage_posts",
    "channel_alerts",
}


def _table_names(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def test_migrations_create_every_table_on_an_empty_database(
    database: ScratchDatabase,
) -> None:
    engine = database.engine()
    try:
        assert await current_revision(engine) is None
        await upgrade(database.url, **database.options)
        async with engine.connect() as conn:
            assert await conn.run_sync(_table_names) == TABLES | {"alembic_version"}
        assert await current_revision(engine) == head_revision() == "0018"
    finally:
        await engine.dispose()


async def test_upgrading_again_changes_nothing(database: ScratchDatabase) -> None:
    await upgrade(database.url, **database.options)
    engine = database.engine()
    try:
        await Outbox(engine).create_publication(
            "c", "r1", ["website"], source=PublicationSource.CLI
        )
        await upgrade(database.url, **database.options)
        async with engine.connect() as conn:
            assert (await conn.execute(select(publications.c.campaign_id))).scalars().all() == ["c"]
        assert await current_revision(engine) == head_revision()
    finally:
        await engine.dispose()


async def test_publications_made_before_0006_are_campaign_publications(
    database: ScratchDatabase,
) -> None:
    await upgrade(database.url, "0005", **database.options)
    engine = database.engine()
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO publications (campaign_id, revision, channels, source, status,"
                    " created_at) VALUES ('c', 'r1', '[]', 'cli', 'enqueued', :at)"
                ),
                {"at": datetime(2021, 7, 10, tzinfo=UTC)},
            )
        await upgrade(database.url, **database.options)
        async with engine.connect() as conn:
            [published] = await load_publications(conn, 10)
        assert (published.campaign_id, published.kind) == ("c", PublicationKind.PUBLICATION)
    finally:
        await engine.dispose()


async def test_processes_starting_together_upgrade_once(database: ScratchDatabase) -> None:
    await asyncio.gather(*(upgrade(database.url, **database.options) for _ in range(3)))
    engine = database.engine()
    try:
        assert await current_revision(engine) == head_revision()
    finally:
        await engine.dispose()


async def test_migrations_match_the_table_definitions(database: ScratchDatabase) -> None:
    await upgrade(database.url, **database.options)
    engine = database.engine()
    try:
        async with engine.connect() as conn:
            differences = await conn.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={"compare_type": True}), metadata
                )
            )
        assert differences == []
    finally:
        await engine.dispose()


async def test_sqlite_uses_wal_a_busy_timeout_and_foreign_keys(tmp_path: Path) -> None:
    engine = sqlite_database(tmp_path).engine()
    try:
        async with engine.connect() as conn:
            pragma = conn.exec_driver_sql
            assert (await pragma("PRAGMA journal_mode")).scalar() == "wal"
            assert (await pragma("PRAGMA busy_timeout")).scalar() == 5000
            assert (await pragma("PRAGMA foreign_keys")).scalar() == 1
            assert (await pragma("PRAGMA synchronous")).scalar() == 1  # NORMAL
    finally:
        await engine.dispose()


async def test_timestamps_round_trip_as_aware_utc(database: ScratchDatabase) -> None:
    await upgrade(database.url, **database.options)
    engine = database.engine()
    hanoi = timezone(timedelta(hours=7))
    fire_time = datetime(2021, 7, 10, 8, 0, 0, 123456, tzinfo=hanoi)
    try:
        outbox = Outbox(engine, clock=ManualClock(datetime(2021, 7, 9, 23, 30, tzinfo=hanoi)))
        await outbox.create_publication(
            "c",
            "r",
            ["website"],
            source=PublicationSource.SCHEDULE,
            schedule_id="launch",
            fire_time=fire_time,
        )
        (stored,) = await outbox.publications()
        assert stored.fire_time == fire_time
        assert stored.fire_time is not None
        assert stored.fire_time.tzinfo is UTC
        assert stored.fire_time.hour == 1
        assert stored.created_at == datetime(2021, 7, 9, 16, 30, tzinfo=UTC)
        assert stored.created_at.tzinfo is UTC
        if database.dialect == "sqlite":  # stored as sortable naive UTC text
            async with engine.connect() as conn:
                raw = await conn.exec_driver_sql("SELECT fire_time FROM publications")
                assert raw.scalar() == "2021-07-10 01:00:00.123456"
        assert await outbox.last_fire_time("launch") == fire_time
    finally:
        await engine.dispose()


async def test_naive_datetimes_are_refused(database: ScratchDatabase) -> None:
    await upgrade(database.url, **database.options)
    engine = database.engine()
    try:
        outbox = Outbox(engine)
        with pytest.raises(Exception, match="naive datetime"):
            await outbox.create_publication(
                "c",
                "r",
                ["website"],
                source=PublicationSource.SCHEDULE,
                schedule_id="launch",
                fire_time=datetime(2021, 7, 10, 8, 0),
            )
        naive_clock = Outbox(engine, clock=lambda: datetime(2021, 7, 10))
        with pytest.raises(ValueError, match="timezone-aware"):
            await naive_clock.create_publication(
                "c", "r", ["website"], source=PublicationSource.CLI
            )
    finally:
        await engine.dispose()


async def test_engine_creates_the_sqlite_folder(tmp_path: Path) -> None:
    path = f"{tmp_path}/var/nested/broadcaster.db"
    await upgrade(f"sqlite:///{path}")
    engine = create_engine(f"sqlite:///{path}")
    try:
        assert engine.dialect.driver == "aiosqlite"
        assert await current_revision(engine) == head_revision()
    finally:
        await engine.dispose()

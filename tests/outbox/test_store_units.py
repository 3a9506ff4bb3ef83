"""Store and outbox logic that needs no database server."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from broadcaster.outbox.outbox import RetryPolicy
from broadcaster.outbox.publications import dedup_key
from broadcaster.store import create_engine, database_url
from broadcaster.store.engine import dispose_engine, write_transaction


def test_database_urls_get_an_async_driver() -> None:
    assert database_url("sqlite:///var/b.db").drivername == "sqlite+aiosqlite"
    assert database_url("postgresql://u@h/db").drivername == "postgresql+asyncpg"
    assert database_url("postgresql+asyncpg://u@h/db").drivername == "postgresql+asyncpg"
    with pytest.raises(ValueError, match=r"unsupported database URL 'mysql://u:\*\*\*@h/db'"):
        database_url("mysql://u:secret@h/db")
    with pytest.raises(ValueError, match="unsupported"):
        database_url("postgresql+psycopg2://u@h/db")


def test_backoff_ceiling_doubles_up_to_the_cap() -> None:
    policy = RetryPolicy(base=timedelta(seconds=30), cap=timedelta(minutes=5))
    ceilings = [policy.delay(attempt, jitter=1.0).total_seconds() for attempt in range(1, 7)]
    assert ceilings == [30, 60, 120, 240, 300, 300]
    assert policy.delay(1000, jitter=1.0) == timedelta(minutes=5)  # no overflow


def test_full_jitter_stays_between_zero_and_the_ceiling() -> None:
    policy = RetryPolicy(base=timedelta(seconds=30), cap=timedelta(minutes=5))
    rng = random.Random(3)
    delays = [policy.delay(4, jitter=rng.random()) for _ in range(200)]
    assert all(timedelta(0) <= d <= timedelta(seconds=240) for d in delays)
    assert len(set(delays)) > 150  # spread out, not synchronised


def test_retry_after_is_a_floor_even_above_the_cap() -> None:
    policy = RetryPolicy(base=timedelta(seconds=30), cap=timedelta(minutes=5))
    assert policy.delay(1, 0.5, retry_after=timedelta(seconds=90)) == timedelta(seconds=90)
    assert policy.delay(3, 1.0, retry_after=timedelta(seconds=10)) == timedelta(seconds=120)
    assert policy.delay(1, 0.0, retry_after=timedelta(hours=1)) == timedelta(hours=1)


def test_dedup_keys_are_stable_and_distinct() -> None:
    assert dedup_key(1, "citizens", "a@example.vn") == dedup_key(1, "citizens", "a@example.vn")
    keys = {dedup_key(p, c, r) for p in (1, 2) for c in ("citizens", "desk") for r in ("a", "b")}
    assert len(keys) == 8
    assert len(dedup_key(1, "website", "")) == 32


async def test_writers_of_one_sqlite_database_take_turns_first_come_first_served(
    tmp_path: Path,
) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    order: list[int] = []

    async def write(number: int) -> None:
        async with write_transaction(engine) as conn:
            order.append(number)
            await conn.execute(text("CREATE TABLE IF NOT EXISTS t (n INTEGER)"))
            await conn.execute(text("INSERT INTO t VALUES (:n)"), {"n": number})
            await asyncio.sleep(0.001)  # another writer's turn would start here, and wait

    try:
        await asyncio.gather(*(write(n) for n in range(20)))
        async with engine.connect() as conn:
            count = (await conn.execute(text("SELECT count(*) FROM t"))).scalar_one()
    finally:
        await dispose_engine(engine)
    assert order == list(range(20))
    assert count == 20

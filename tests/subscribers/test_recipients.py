"""Streaming recipients for a publication, and the last check before sending."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from broadcaster.subscribers import bulk
from broadcaster.subscribers.api import Recipient
from broadcaster.subscribers.bulk import import_subscribers
from broadcaster.subscribers.csvio import CsvSubscriber
from broadcaster.subscribers.store import SqlSubscriberStore
from broadcaster.workspace.models import Frequency
from tests.subscribers.conftest import SECRET

TOPICS = ("online-services", "support-contacts", "covid-19-measures")


async def add_confirmed(engine: AsyncEngine, count: int, start: int = 0) -> None:
    """`count` confirmed subscribers: person<i>, topic TOPICS[i % 3], frequency by i % 2."""
    rows = [
        CsvSubscriber(
            i + 2,
            f"person{i}@example.vn",
            "en" if i % 5 == 0 else "vi",
            (TOPICS[i % 3],),
            Frequency.IMMEDIATE if i % 2 == 0 else Frequency.DAILY,
        )
        for i in range(start, start + count)
    ]
    done = await import_subscribers(engine, SECRET, rows, confirmed=True, note="test list")
    assert done.confirmed == count


async def stream(
    store: SqlSubscriberStore, topics: Sequence[str], frequency: Frequency, batch: int
) -> list[list[Recipient]]:
    return [batch_ async for batch_ in store.recipients(topics, frequency, batch=batch)]


def numbers(batches: list[list[Recipient]]) -> list[int]:
    return [int(r.email.removeprefix("person").split("@")[0]) for b in batches for r in b]


async def test_recipients_stream_in_id_order_batches_filtered_by_topic_and_frequency(
    store: SqlSubscriberStore, engine: AsyncEngine
) -> None:
    await add_confirmed(engine, 60)
    batches = await stream(store, ["online-services", "covid-19-measures"], Frequency.IMMEDIATE, 7)
    expected = [i for i in range(60) if i % 2 == 0 and i % 3 in (0, 2)]
    assert numbers(batches) == expected
    assert [len(b) for b in batches] == [7, 7, 6]  # full batches: topics are matched in SQL
    ids = [r.id for b in batches for r in b]
    assert ids == sorted(ids)
    first = batches[0][0]
    assert (first.email, first.locale, first.token_version) == ("person0@example.vn", "en", 0)
    daily = await stream(store, ["support-contacts"], Frequency.DAILY, 1000)
    assert numbers(daily) == [i for i in range(60) if i % 2 == 1 and i % 3 == 1]
    assert await stream(store, ["no-such-topic"], Frequency.DAILY, 10) == []
    assert await stream(store, [], Frequency.DAILY, 10) == []


async def test_recipients_leave_out_pending_unsubscribed_and_suppressed(
    store: SqlSubscriberStore, engine: AsyncEngine
) -> None:
    await add_confirmed(engine, 6)  # immediate: person0, person2, person4
    everyone = await stream(store, TOPICS, Frequency.IMMEDIATE, 100)
    assert numbers(everyone) == [0, 2, 4]
    by_number = dict(zip(numbers(everyone), (r.id for b in everyone for r in b), strict=True))
    await store.unsubscribe(by_number[0], ip=None, how="web")
    await store.suppress("PERSON2@example.vn", "manual")
    pending = await store.request(
        "waiting@example.vn",
        locale="vi",
        topics=TOPICS,
        frequency=Frequency.IMMEDIATE,
        ip=None,
        form="web",
    )
    assert numbers(await stream(store, TOPICS, Frequency.IMMEDIATE, 100)) == [4]
    assert pending.subscriber_id is not None
    sendable = await store.sendable([*by_number.values(), pending.subscriber_id, 999_999])
    assert list(sendable) == [by_number[4]]
    assert sendable[by_number[4]].email == "person4@example.vn"


async def test_a_subscriber_leaving_mid_stream_makes_nobody_else_skipped(
    store: SqlSubscriberStore, engine: AsyncEngine
) -> None:
    await add_confirmed(engine, 40)
    seen: list[Recipient] = []
    async for batch in store.recipients(TOPICS, Frequency.IMMEDIATE, batch=5):
        if not seen:  # people from the first batch leave while the stream is open
            for recipient in batch[:3]:
                await store.unsubscribe(recipient.id, ip=None, how="one-click")
        seen.extend(batch)
    assert numbers([seen]) == list(range(0, 40, 2))


async def test_sendable_takes_many_ids(store: SqlSubscriberStore, engine: AsyncEngine) -> None:
    await add_confirmed(engine, 120)
    recipients = [r async for b in store.recipients(TOPICS, Frequency.DAILY) for r in b]
    ids = [r.id for r in recipients]
    assert len(ids) == 60
    assert set(await store.sendable(ids * 300)) == set(ids)  # 18,000 ids, repeated
    assert await store.sendable([]) == {}


async def test_a_large_import_refreshes_the_planner_statistics(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Right after a first big import a fan-out looks subscribers up a thousand ids at a
    time: with the estimates of an empty table, PostgreSQL read every subscriber for each
    thousand. The import refreshes them (ANALYZE) once it has added enough."""
    monkeypatch.setattr(bulk, "ANALYZE_AFTER", 50)
    await add_confirmed(engine, 49)
    if engine.dialect.name != "postgresql":
        return  # SQLite plans without them: nothing to refresh
    assert await analyzed(engine) is None  # a small import leaves it to autovacuum
    await add_confirmed(engine, 60, start=49)
    assert await analyzed(engine) is not None


async def analyzed(engine: AsyncEngine) -> object:
    """When the subscribers table was last analyzed by hand (PostgreSQL)."""
    async with engine.connect() as conn:
        query = (
            "SELECT last_analyze FROM pg_stat_user_tables"
            " WHERE relname = 'subscribers' AND schemaname = current_schema()"
        )
        return (await conn.execute(text(query))).scalar_one()

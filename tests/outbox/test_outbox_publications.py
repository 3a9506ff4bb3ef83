"""Publications, schedule firings, enqueueing and progress, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from broadcaster.outbox import outbox as outbox_module
from broadcaster.outbox.content import ContentStore
from broadcaster.outbox.outbox import Outbox
from broadcaster.outbox.publications import insert_deliveries
from broadcaster.outbox.tables import (
    DeliveryStatus,
    PublicationSource,
    PublicationStatus,
    deliveries,
    publications,
)
from broadcaster.store.engine import write_transaction
from broadcaster.store.testing import ManualClock, ScratchDatabase

pytestmark = pytest.mark.asyncio

FIRE = datetime(2021, 7, 10, 1, 0, tzinfo=UTC)
SCHEDULE = PublicationSource.SCHEDULE


async def test_a_firing_creates_one_publication(outbox: Outbox) -> None:
    first = await outbox.create_publication(
        "online-submission",
        "rev1",
        ["website", "citizens"],
        source=SCHEDULE,
        schedule_id="launch",
        fire_time=FIRE,
    )
    again = await outbox.create_publication(
        "online-submission",
        "rev1",
        ["website", "citizens"],
        source=SCHEDULE,
        schedule_id="launch",
        fire_time=FIRE,
    )
    assert first == (first[0], True)
    assert again == (first[0], False)
    (publication,) = await outbox.publications()
    assert publication.channels == ("website", "citizens")
    assert publication.source == SCHEDULE
    assert publication.status == PublicationStatus.CREATED
    assert await outbox.last_fire_time("launch") == FIRE


async def test_two_processes_firing_the_same_job_create_one(
    database: ScratchDatabase, engine: AsyncEngine, clock: ManualClock
) -> None:
    other_engine = database.engine()  # a second process: its own connection pool
    try:
        outboxes = [Outbox(engine, clock=clock), Outbox(other_engine, clock=clock)]
        results = await asyncio.gather(
            *(
                outboxes[i % 2].create_publication(
                    "c", "r", ["website"], source=SCHEDULE, schedule_id="launch", fire_time=FIRE
                )
                for i in range(10)
            )
        )
    finally:
        await other_engine.dispose()
    assert sum(created for _, created in results) == 1
    assert len({publication_id for publication_id, _ in results}) == 1
    assert len(await outboxes[0].publications()) == 1


async def test_manual_publications_always_create(outbox: Outbox) -> None:
    ids = [
        (await outbox.create_publication("c", "r", ["website"], source=source))
        for source in (PublicationSource.CLI, PublicationSource.CLI, PublicationSource.ADMIN)
    ]
    assert [created for _, created in ids] == [True, True, True]
    listed = await outbox.publications()
    assert [p.id for p in listed] == sorted((i for i, _ in ids), reverse=True)  # newest first
    assert [p.source for p in listed] == ["admin", "cli", "cli"]
    with pytest.raises(ValueError, match="together"):
        await outbox.create_publication("c", "r", [], source=SCHEDULE, schedule_id="launch")


async def test_missed_firings_are_recorded_once(outbox: Outbox) -> None:
    assert await outbox.last_fire_time("reminder") is None
    assert await outbox.record_missed("reminder", FIRE) is True
    assert await outbox.record_missed("reminder", FIRE) is False
    later = FIRE + timedelta(days=7)
    await outbox.create_publication(
        "c", "r", ["citizens"], source=SCHEDULE, schedule_id="reminder", fire_time=later
    )
    assert await outbox.last_fire_time("reminder") == later
    assert await outbox.publications() != []


async def test_enqueue_skips_deliveries_already_queued(outbox: Outbox) -> None:
    publication_id, _ = await outbox.create_publication(
        "c", "r", ["website", "citizens"], source=PublicationSource.CLI
    )
    first = [
        ("website", "", "vi"),
        ("citizens", "a@example.vn", "vi"),
        ("citizens", "b@x.vn", "en"),
    ]
    assert await outbox.enqueue(publication_id, first) == 3
    second = [*first, ("citizens", "c@x.vn", "vi"), ("citizens", "c@x.vn", "vi")]
    assert await outbox.enqueue(publication_id, iter(second)) == 1
    assert await outbox.progress(publication_id) == {
        "website": {DeliveryStatus.CREATED: 1},
        "citizens": {DeliveryStatus.CREATED: 3},
    }
    (publication,) = await outbox.publications(status=PublicationStatus.ENQUEUED)
    assert publication.id == publication_id
    assert await outbox.publications(status=PublicationStatus.CREATED) == []


async def test_a_big_enqueue_refreshes_the_outbox_statistics(
    outbox: Outbox, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a fan-out is queued, PostgreSQL's estimates for the deliveries and their
    attempts are refreshed (the first fan-out on a new database fills both from nothing)."""
    monkeypatch.setattr(outbox_module, "ANALYZE_AFTER", 20)
    publication_id, _ = await outbox.create_publication(
        "c", "r", ["citizens"], source=PublicationSource.CLI
    )
    items = [("citizens", f"p{i}@example.vn", "vi") for i in range(25)]
    assert await outbox.enqueue(publication_id, items, batched={"citizens"}) == 25
    if engine.dialect.name != "postgresql":
        return  # SQLite plans without them
    async with engine.connect() as conn:
        analyzed = await conn.execute(
            text(
                "SELECT relname FROM pg_stat_user_tables WHERE last_analyze IS NOT NULL"
                " AND relname IN ('deliveries', 'delivery_attempts')"
                " AND schemaname = current_schema() ORDER BY relname"
            )
        )
        assert list(analyzed.scalars()) == ["deliveries", "delivery_attempts"]


async def test_enqueue_needs_an_existing_publication(outbox: Outbox) -> None:
    with pytest.raises(LookupError, match="no publication with id 42"):
        await outbox.enqueue(42, [("website", "", "vi")])


async def test_enqueue_100k_deliveries_in_batches(outbox: Outbox) -> None:
    publication_id, _ = await outbox.create_publication(
        "c", "r", ["citizens"], source=PublicationSource.CLI
    )
    recipients = [("citizens", f"person{i}@example.vn", "vi") for i in range(100_000)]
    started = time.perf_counter()
    assert await outbox.enqueue(publication_id, recipients) == 100_000
    first_run = time.perf_counter() - started
    assert await outbox.enqueue(publication_id, recipients[:5000]) == 0
    assert await outbox.progress(publication_id) == {"citizens": {DeliveryStatus.CREATED: 100_000}}
    assert first_run < 30, f"enqueueing 100k deliveries took {first_run:.1f}s"


async def test_progress_counts_each_channel_by_status(outbox: Outbox, clock: ManualClock) -> None:
    publication_id, _ = await outbox.create_publication(
        "c", "r", ["website", "citizens"], source=PublicationSource.CLI
    )
    other_id, _ = await outbox.create_publication(
        "c", "r", ["website"], source=PublicationSource.CLI
    )
    await outbox.enqueue(other_id, [("website", "", "vi")])
    items = [("website", "", "vi"), *(("citizens", f"p{i}@x.vn", "vi") for i in range(5))]
    await outbox.enqueue(publication_id, items)
    lease = timedelta(minutes=1)
    claimed = await outbox.claim("w1", 4, lease, channels={"citizens"})
    await outbox.complete(claimed[0].id, "w1")
    await outbox.complete(claimed[1].id, "w1")
    await outbox.retry_later(claimed[2].id, "w1", "421 try later")
    await outbox.fail(claimed[3].id, "w1", "550 no such user")
    assert await outbox.progress(publication_id) == {
        "website": {DeliveryStatus.CREATED: 1},
        "citizens": {
            DeliveryStatus.CREATED: 1,
            DeliveryStatus.DELIVERED: 2,
            DeliveryStatus.TEMPORARY_FAILURE: 1,
            DeliveryStatus.PERMANENT_FAILURE: 1,
        },
    }
    assert await outbox.progress(999) == {}


async def test_publications_a_crash_left_unqueued_are_listed_oldest_first(
    outbox: Outbox, engine: AsyncEngine
) -> None:
    snapshot = '{"version": 1, "campaign": {"id": "c"}}'
    first, _ = await outbox.create_publication(
        "c", "r", ["website"], source=PublicationSource.CLI, snapshot=snapshot
    )
    second, _ = await outbox.create_publication("c", "r", ["website"], source=PublicationSource.CLI)
    done, _ = await outbox.create_publication("c", "r", ["website"], source=PublicationSource.CLI)
    await outbox.enqueue(done, [("website", "", "vi")])
    assert [p.id for p in await outbox.unfinished_publications()] == [first, second]
    async with engine.connect() as conn:
        stored = await conn.execute(select(publications.c.snapshot).order_by(publications.c.id))
        assert stored.scalars().all() == [snapshot, None, None]


async def test_the_public_state_is_found_among_many_email_deliveries(
    engine: AsyncEngine, outbox: Outbox
) -> None:
    """What `serve` rebuilds the website and feeds from: per channel and campaign the newest
    publication (a cancelled delivery does not count), and the newest delivered delivery;
    email deliveries queued after them change neither."""

    async def publish(campaign: str, items: list[tuple[str, str, str]]) -> int:
        publication_id, _ = await outbox.create_publication(
            campaign, "r", sorted({c for c, _, _ in items}), source=SCHEDULE, snapshot="{}"
        )
        async with write_transaction(engine) as conn:
            await insert_deliveries(conn, publication_id, items, FIRE)
        return publication_id

    async def set_status(publication_id: int, channel: str, status: DeliveryStatus) -> None:
        d = deliveries.c
        async with write_transaction(engine) as conn:
            await conn.execute(
                deliveries.update()
                .where(d.publication_id == publication_id, d.channel == channel)
                .values(status=status)
            )

    first = await publish("a", [("website", "", "vi"), ("feeds", "", "vi")])
    second = await publish("b", [("website", "", "vi")])
    withdrawn = await publish("a", [("website", "", "vi")])
    await set_status(withdrawn, "website", DeliveryStatus.CANCELLED)
    await set_status(first, "website", DeliveryStatus.DELIVERED)
    await set_status(second, "website", DeliveryStatus.DELIVERED)
    content = ContentStore(engine)
    delivered = await content.delivered_state(["website", "feeds"])
    email = await publish("a", [("citizens", str(n), "vi") for n in range(2_000)])
    await set_status(email, "citizens", DeliveryStatus.DELIVERED)

    assert await content.latest_snapshot_ids_by_channel(["website", "feeds"]) == {
        "website": [first, second],
        "feeds": [first],
    }
    assert await content.delivered_state(["website", "feeds"]) == delivered
    assert delivered[0] == 2
    # An older publication's delivery going out (after a retry) changes it too.
    await set_status(first, "feeds", DeliveryStatus.DELIVERED)
    assert await content.delivered_state(["website", "feeds"]) == (3, delivered[1])
    assert await content.delivered_state(["partners"]) == (0, None)

"""Digest firings: once per firing across processes, from the scheduler, after a crash."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from broadcaster.outbox.tables import DeliveryStatus, PublicationStatus, deliveries
from broadcaster.publishing.digests import Digests, Member, StoreAudience
from broadcaster.publishing.scheduler import Scheduler
from broadcaster.store.testing import ScratchDatabase
from broadcaster.workspace.models import Frequency
from tests.publishing.digests.conftest import HCM, World

CONFIRMED = datetime(2021, 7, 11, 16, tzinfo=HCM)
MORNING = datetime(2021, 7, 12, 8, tzinfo=HCM)
EVENING = datetime(2021, 7, 12, 18, tzinfo=HCM)


async def two_daily_readers(world: World) -> tuple[int, int]:
    world.at(CONFIRMED)
    first = await world.subscriber("mot@mail.example.vn", ["covid-19-measures"], Frequency.DAILY)
    second = await world.subscriber(
        "hai@mail.example.vn", ["support-contacts"], Frequency.DAILY, locale="en"
    )
    world.at(MORNING)
    await world.publish("one-stop-covid-measures")
    await world.publish("support-contacts")
    return first, second


async def test_two_processes_firing_the_same_digest_create_one_publication(
    world: World, database: ScratchDatabase
) -> None:
    first, second = await two_daily_readers(world)
    other = World.open(world.workspace, world.settings, database.engine(), world.clock)

    results = await asyncio.gather(
        world.fire("citizens-daily-digest", EVENING),
        other.fire("citizens-daily-digest", EVENING),
    )

    assert sorted(r.created for r in results) == [False, True]
    assert {r.publication_id for r in results} == set(
        await world.publication_ids("citizens-daily-digest")
    )
    sent = await world.digests_sent(results[0].publication_id)
    assert sorted(sent) == sorted([first, second])
    await other.engine.dispose()


async def test_a_node_firing_a_digest_another_already_sent_finds_it_not_nothing_new(
    world: World, database: ScratchDatabase
) -> None:
    await two_daily_readers(world)
    other = World.open(world.workspace, world.settings, database.engine(), world.clock)
    sent = await world.fire("citizens-daily-digest", EVENING)

    # Its readers have had their news by now: the late node names that publication and
    # does not record the firing as missed.
    late = await other.fire("citizens-daily-digest", EVENING)

    assert (late.publication_id, late.created) == (sent.publication_id, False)
    assert await world.publication_ids("citizens-daily-digest") == [sent.publication_id]
    await other.engine.dispose()


async def test_the_scheduler_fires_digest_schedules(world: World) -> None:
    reader, _ = await two_daily_readers(world)
    scheduler = Scheduler(world.publisher, grace=timedelta(hours=6))
    schedule = world.schedule("citizens-daily-digest")
    world.at(EVENING + timedelta(minutes=30))

    await scheduler.catch_up(schedule, HCM, EVENING + timedelta(minutes=30))

    [publication_id] = await world.publication_ids("citizens-daily-digest")
    assert reader in await world.digests_sent(publication_id)
    await scheduler.start(world.workspace)  # now: every 2021 firing is long past
    try:
        upcoming = scheduler.next_fire_times()
        assert upcoming["citizens-daily-digest"] is not None
        assert upcoming["citizens-weekly-digest"] is not None
    finally:
        scheduler.shutdown()
    await asyncio.sleep(0)


class CrashOnce:
    """An audience whose process dies after the outbox took the first batch."""

    def __init__(self, inner: StoreAudience) -> None:
        self.inner = inner
        self.crashed = False

    def members(
        self, topics: Sequence[str], frequency: Frequency, batch: int = 5000
    ) -> AsyncIterator[list[Member]]:
        return self.inner.members(topics, frequency, batch)

    async def advance(self, ids: Sequence[int], to: datetime) -> None:
        if not self.crashed:
            self.crashed = True
            raise RuntimeError("killed")
        await self.inner.advance(ids, to)


async def test_a_digest_interrupted_midway_is_finished_once_on_restart(world: World) -> None:
    first, second = await two_daily_readers(world)
    audience = CrashOnce(StoreAudience(world.store, world.engine))
    world.publisher.digests = Digests(
        world.outbox, world.content, audience, world.settings, batch=1
    )
    world.at(EVENING)
    with pytest.raises(RuntimeError, match="killed"):
        await world.publisher.fire_digest(world.schedule("citizens-daily-digest"), EVENING)
    [publication_id] = await world.publication_ids("citizens-daily-digest")
    [pending] = await world.outbox.unfinished_publications()
    assert pending.id == publication_id
    assert pending.status is PublicationStatus.CREATED

    assert await world.publisher.resume() == 1

    assert sorted(await world.digests_sent(publication_id)) == sorted([first, second])
    for subscriber in (first, second):
        state = await world.store.get(subscriber)
        assert state is not None
        assert state.last_digest_at == EVENING
    assert await world.outbox.unfinished_publications() == []


async def test_unsubscribing_cancels_a_queued_digest(world: World) -> None:
    reader, _ = await two_daily_readers(world)
    fired = await world.fire("citizens-daily-digest", EVENING)

    assert await world.store.unsubscribe(reader, ip=None, how="one-click")

    d = deliveries.c
    query = select(d.status).where(
        d.publication_id == fired.publication_id, d.recipient == str(reader)
    )
    async with world.engine.connect() as conn:
        status = (await conn.execute(query)).scalar_one()
    assert status == DeliveryStatus.CANCELLED


async def test_a_digest_with_nothing_new_for_anyone_creates_no_publication(world: World) -> None:
    world.at(CONFIRMED)
    await world.subscriber("mot@mail.example.vn", ["covid-19-measures"], Frequency.DAILY)
    world.at(MORNING)
    await world.publish("support-contacts")  # not a topic any daily reader chose
    scheduler = Scheduler(world.publisher, grace=timedelta(hours=6))
    schedule = world.schedule("citizens-daily-digest")
    world.at(EVENING + timedelta(minutes=30))

    await scheduler.catch_up(schedule, HCM, EVENING + timedelta(minutes=30))

    assert await world.publication_ids("citizens-daily-digest") == []
    assert await world.outbox.last_fire_time("citizens-daily-digest") == EVENING
    # The next evening there is news for the reader: that digest goes out as usual.
    world.at(EVENING + timedelta(hours=14))
    await world.publish("one-stop-covid-measures")
    fired = await world.fire("citizens-daily-digest", EVENING + timedelta(days=1))
    assert fired.created
    assert fired.deliveries == 1

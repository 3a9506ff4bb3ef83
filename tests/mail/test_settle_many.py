"""`Outbox.settle_many`: fan-out's batched outcomes, with the guards of the single methods."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
import pytest_asyncio

from broadcaster.outbox.outbox import Outbox, RetryPolicy, Settlement
from broadcaster.outbox.tables import AttemptOutcome, DeliveryStatus, PublicationSource
from broadcaster.store import upgrade_engine
from broadcaster.store.testing import (
    ManualClock,
    ScratchDatabase,
    postgres_database,
    postgres_url,
    sqlite_database,
)

LEASE = timedelta(seconds=60)


@pytest_asyncio.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def database(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[ScratchDatabase]:
    """SQLite, and PostgreSQL when BROADCASTER_TEST_DATABASE_URL names a server."""
    if request.param == "sqlite":
        yield sqlite_database(tmp_path)
        return
    url = postgres_url()
    if url is None:
        pytest.skip("BROADCASTER_TEST_DATABASE_URL is not set")
    async with postgres_database(url) as database:
        yield database


@pytest_asyncio.fixture
async def outbox(database: ScratchDatabase) -> AsyncIterator[Outbox]:
    engine = database.engine()
    await upgrade_engine(engine)
    clock = ManualClock()
    yield Outbox(
        engine,
        clock=clock,
        retry=RetryPolicy(max_attempts=2, base=timedelta(seconds=10)),
        jitter=lambda: 1.0,
    )
    await engine.dispose()


async def queue(outbox: Outbox, count: int) -> int:
    publication_id, _ = await outbox.create_publication(
        "c", "r" * 64, ["citizens"], source=PublicationSource.CLI
    )
    await outbox.enqueue(publication_id, [("citizens", str(n), "vi") for n in range(count)])
    return publication_id


async def test_settle_many_records_each_outcome_like_the_single_methods(outbox: Outbox) -> None:
    await queue(outbox, 5)
    claimed = await outbox.claim("w", 10, LEASE)
    ids = [c.id for c in claimed]
    recorded = await outbox.settle_many(
        "w",
        [
            Settlement(ids[0], AttemptOutcome.DELIVERED, "smtp 250 ok"),
            Settlement(ids[1], AttemptOutcome.TEMPORARY_FAILURE, "SMTP 451", timedelta(hours=3)),
            Settlement(ids[2], AttemptOutcome.PERMANENT_FAILURE, "SMTP 550"),
            Settlement(ids[3], AttemptOutcome.CANCELLED, "unsubscribed"),
            Settlement(ids[4], AttemptOutcome.TECHNICAL_FAILURE, "bug"),
        ],
    )
    assert recorded == 5
    found = [await outbox.delivery(i) for i in ids]
    assert [d.status for d in found if d] == [
        DeliveryStatus.DELIVERED,
        DeliveryStatus.TEMPORARY_FAILURE,
        DeliveryStatus.PERMANENT_FAILURE,
        DeliveryStatus.CANCELLED,
        DeliveryStatus.TECHNICAL_FAILURE,
    ]
    assert found[0] is not None
    assert found[0].receipt == "smtp 250 ok"
    assert found[1] is not None
    assert found[1].next_attempt_at is not None
    # Retry-After is a floor: three hours, even above the backoff.
    assert found[1].next_attempt_at - found[1].updated_at == timedelta(hours=3)
    assert all(d is not None and d.lease_owner is None for d in found)
    attempts = await outbox.attempts(ids[2])
    assert [(a.outcome, a.error) for a in attempts] == [("permanent-failure", "SMTP 550")]
    assert (await outbox.attempts(ids[0]))[0].finished_at is not None


async def test_settle_many_skips_deliveries_whose_lease_was_lost(outbox: Outbox) -> None:
    await queue(outbox, 2)
    claimed = await outbox.claim("w", 10, LEASE)
    await outbox.release("w")
    taken = await outbox.claim("other", 1, LEASE)
    settlements = [Settlement(c.id, AttemptOutcome.DELIVERED, "ok") for c in claimed]
    assert await outbox.settle_many("w", settlements) == 0
    mine = await outbox.delivery(taken[0].id)
    assert mine is not None
    assert mine.status == DeliveryStatus.SENDING
    assert mine.lease_owner == "other"


async def test_settle_many_gives_up_after_the_last_attempt(outbox: Outbox) -> None:
    await queue(outbox, 1)
    for _ in range(2):
        (claimed,) = await outbox.claim("w", 1, timedelta(seconds=60))
        await outbox.settle_many(
            "w", [Settlement(claimed.id, AttemptOutcome.TEMPORARY_FAILURE, "SMTP 421")]
        )
        clock = outbox._clock
        assert isinstance(clock, ManualClock)
        clock.advance(timedelta(minutes=5))
    delivery = await outbox.delivery(claimed.id)
    assert delivery is not None
    assert delivery.status == DeliveryStatus.PERMANENT_FAILURE
    assert delivery.last_error == "SMTP 421 (gave up after 2 attempts)"


async def test_a_fan_out_write_reads_back_like_any_other(outbox: Outbox) -> None:
    """Delivered at a known attempt (what a fan-out records every few dozen messages; on
    SQLite in one step on the connection's thread): the same rows as `complete` writes,
    times included, and nothing for a delivery whose lease went to another worker."""
    await queue(outbox, 4)
    claimed = await outbox.claim("w", 3, LEASE)
    by_hand = claimed[0]
    assert await outbox.complete(by_hand.id, "w", "smtp 250 by hand")
    fan_out = [
        Settlement(c.id, AttemptOutcome.DELIVERED, f"smtp 250 {c.id}", attempt=c.attempt)
        for c in claimed[1:]
    ]
    assert await outbox.settle_many("w", fan_out) == 2
    expected = await outbox.delivery(by_hand.id)
    assert expected is not None
    for c in claimed[1:]:
        found = await outbox.delivery(c.id)
        assert found is not None
        assert (found.status, found.receipt, found.lease_owner, found.next_attempt_at) == (
            DeliveryStatus.DELIVERED,
            f"smtp 250 {c.id}",
            None,
            None,
        )
        assert found.updated_at == expected.updated_at  # the same clock, read back alike
        attempts = await outbox.attempts(c.id)
        assert [(a.attempt, a.outcome, a.error) for a in attempts] == [(1, "delivered", None)]
        assert attempts[0].finished_at == expected.updated_at
    # The fourth delivery, leased to someone else: not written.
    other = await outbox.claim("other", 1, LEASE)
    stray = Settlement(other[0].id, AttemptOutcome.DELIVERED, "ok", attempt=other[0].attempt)
    assert await outbox.settle_many("w", [stray]) == 0
    still = await outbox.delivery(other[0].id)
    assert still is not None
    assert (still.status, still.lease_owner) == (DeliveryStatus.SENDING, "other")
    assert (await outbox.attempts(other[0].id))[0].finished_at is None

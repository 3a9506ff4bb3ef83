"""Claiming, leases, retries and cancelling deliveries, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from broadcaster.outbox.outbox import Outbox, RetryPolicy
from broadcaster.outbox.tables import AttemptOutcome, DeliveryStatus, PublicationSource
from broadcaster.store import upgrade_engine
from broadcaster.store.engine import dispose_engine
from broadcaster.store.testing import ManualClock, ScratchDatabase, sqlite_database

pytestmark = pytest.mark.asyncio

LEASE = timedelta(seconds=30)


async def publish(outbox: Outbox, recipients: int, channel: str = "citizens") -> int:
    """A publication with `recipients` queued deliveries on `channel`."""
    publication_id, _ = await outbox.create_publication(
        "online-submission", "rev1", [channel], source=PublicationSource.CLI
    )
    items = [(channel, f"person{i}@example.vn", "vi") for i in range(recipients)]
    await outbox.enqueue(publication_id, items)
    return publication_id


async def test_concurrent_claimers_never_share_a_delivery(
    database: ScratchDatabase, engine: AsyncEngine, clock: ManualClock
) -> None:
    outbox = Outbox(engine, clock=clock)
    publication_id = await publish(outbox, 500)
    other_engine = database.engine()  # a second process, with its own connections

    async def work(worker: Outbox, worker_id: str) -> list[int]:
        mine: list[int] = []
        while batch := await worker.claim(worker_id, 20, LEASE):
            mine.extend(delivery.id for delivery in batch)
            for delivery in batch:
                assert await worker.complete(delivery.id, worker_id, receipt="250 OK")
        return mine

    try:
        workers = [Outbox(engine, clock=clock), Outbox(other_engine, clock=clock)] * 2
        results = await asyncio.gather(*(work(w, f"w{i}") for i, w in enumerate(workers)))
    finally:
        await other_engine.dispose()
    claimed = [delivery_id for result in results for delivery_id in result]
    assert len(claimed) == len(set(claimed)) == 500
    # SQLite's busy handler may starve a claimer; the claims still interleaved
    assert sum(1 for result in results if result) >= 2
    assert await outbox.progress(publication_id) == {"citizens": {DeliveryStatus.DELIVERED: 500}}


async def test_claim_leases_the_oldest_due_deliveries(outbox: Outbox, clock: ManualClock) -> None:
    publication_id = await publish(outbox, 3)
    first = await outbox.claim("w1", 2, LEASE)
    assert [d.recipient for d in first] == ["person0@example.vn", "person1@example.vn"]
    delivery = first[0]
    assert delivery.publication_id == publication_id
    assert (delivery.campaign_id, delivery.revision, delivery.locale) == (
        "online-submission",
        "rev1",
        "vi",
    )
    assert delivery.attempt == 1
    assert delivery.lease_expires_at == clock.now + LEASE
    stored = await outbox.delivery(delivery.id)
    assert stored is not None
    assert stored.status == DeliveryStatus.SENDING
    assert (stored.lease_owner, stored.attempts) == ("w1", 1)
    assert stored.dedup_key == delivery.dedup_key
    assert [d.recipient for d in await outbox.claim("w2", 5, LEASE)] == ["person2@example.vn"]
    assert await outbox.claim("w3", 5, LEASE) == []


async def test_claim_only_takes_the_channels_asked_for(outbox: Outbox) -> None:
    await publish(outbox, 2, channel="citizens")
    await publish(outbox, 1, channel="partners")
    assert [d.channel for d in await outbox.claim("w1", 10, LEASE, channels={"partners"})] == [
        "partners"
    ]
    assert await outbox.claim("w1", 10, LEASE, channels=set()) == []
    assert len(await outbox.claim("w1", 10, LEASE, channels={"citizens", "website"})) == 2


async def test_batch_loops_and_one_by_one_loops_claim_apart(outbox: Outbox) -> None:
    """A fan-out is queued for the batch loops; the website's delivery, queued after it,
    is the one-by-one loops' first (and only) find, through their own small index."""
    fan_out, _ = await outbox.create_publication(
        "online-submission", "rev1", ["citizens", "website"], source=PublicationSource.CLI
    )
    emails = [("citizens", f"person{i}@example.vn", "vi") for i in range(30)]
    await outbox.enqueue(fan_out, [*emails, ("website", "", "vi")], batched={"citizens"})
    # queued before the batch mark existed: goes one by one, not lost
    old = await publish(outbox, 1, channel="partners")
    one_by_one = await outbox.claim("w1", 50, LEASE, batch=False)
    assert [(d.channel, d.publication_id) for d in one_by_one] == [
        ("website", fan_out),
        ("partners", old),
    ]
    batched = await outbox.claim("bulk", 100, LEASE, batch=True)
    assert len(batched) == 30
    assert {d.channel for d in batched} == {"citizens"}
    assert await outbox.claim("w1", 50, LEASE) == []


async def test_an_expired_lease_is_reclaimed_and_the_late_outcome_refused(
    outbox: Outbox, clock: ManualClock
) -> None:
    await publish(outbox, 1)
    (first,) = await outbox.claim("w1", 10, LEASE)
    clock.advance(LEASE - timedelta(seconds=1))
    assert await outbox.claim("w2", 10, LEASE) == [], "a live lease is not taken"
    clock.advance(timedelta(seconds=1))  # w1 was killed; its lease runs out
    (second,) = await outbox.claim("w2", 10, LEASE)
    assert (second.id, second.attempt, second.dedup_key) == (first.id, 2, first.dedup_key)

    assert await outbox.complete(first.id, "w1") is False
    assert await outbox.retry_later(first.id, "w1", "late") is False
    assert await outbox.fail(first.id, "w1", "late") is False
    assert await outbox.complete(second.id, "w2", receipt="250 2.0.0 queued") is True
    assert await outbox.complete(second.id, "w2") is False, "settled deliveries stay settled"

    stored = await outbox.delivery(first.id)
    assert stored is not None
    assert (stored.status, stored.receipt, stored.attempts) == ("delivered", "250 2.0.0 queued", 2)
    assert stored.lease_owner is None
    assert stored.next_attempt_at is None
    attempts = await outbox.attempts(first.id)
    assert [(a.attempt, a.worker, a.outcome, a.error) for a in attempts] == [
        (1, "w1", AttemptOutcome.LEASE_EXPIRED, "w1 lost its lease"),
        (2, "w2", AttemptOutcome.DELIVERED, None),
    ]
    assert attempts[1].finished_at == clock.now


async def test_a_lease_may_be_settled_after_expiry_if_nobody_took_it(
    outbox: Outbox, clock: ManualClock
) -> None:
    await publish(outbox, 1)
    (delivery,) = await outbox.claim("w1", 1, LEASE)
    clock.advance(LEASE * 2)
    assert await outbox.complete(delivery.id, "w1") is True
    assert await outbox.claim("w2", 1, LEASE) == []


async def test_retries_back_off_exponentially_and_honour_retry_after(
    engine: AsyncEngine, clock: ManualClock
) -> None:
    policy = RetryPolicy(max_attempts=10, base=timedelta(seconds=10), cap=timedelta(seconds=60))
    outbox = Outbox(engine, clock=clock, retry=policy, jitter=lambda: 1.0)
    await publish(outbox, 1)
    waits = []
    for after in (None, None, None, None, None, timedelta(minutes=5)):
        (delivery,) = await outbox.claim("w1", 1, LEASE)
        assert await outbox.retry_later(delivery.id, "w1", "451 try again", after=after)
        stored = await outbox.delivery(delivery.id)
        assert stored is not None
        assert stored.status == DeliveryStatus.TEMPORARY_FAILURE
        assert stored.next_attempt_at is not None
        wait = stored.next_attempt_at - clock.now
        waits.append(wait.total_seconds())
        clock.advance(wait - timedelta(seconds=1))
        assert await outbox.claim("w1", 1, LEASE) == [], "not before its backoff"
        clock.advance(timedelta(seconds=1))
    assert waits == [10, 20, 40, 60, 60, 300]


async def test_jittered_retries_never_wait_longer_than_the_ceiling(
    engine: AsyncEngine, clock: ManualClock
) -> None:
    policy = RetryPolicy(base=timedelta(seconds=10), cap=timedelta(seconds=60))
    outbox = Outbox(engine, clock=clock, retry=policy, jitter=lambda: 0.25)
    await publish(outbox, 1)
    (delivery,) = await outbox.claim("w1", 1, LEASE)
    await outbox.retry_later(delivery.id, "w1", "timeout", after=timedelta(seconds=1))
    stored = await outbox.delivery(delivery.id)
    assert stored is not None
    assert stored.next_attempt_at == clock.now + timedelta(seconds=2.5)


async def test_the_last_allowed_attempt_fails_permanently(
    outbox: Outbox, clock: ManualClock, retry: RetryPolicy
) -> None:
    await publish(outbox, 1)
    for attempt in range(1, retry.max_attempts + 1):
        (delivery,) = await outbox.claim("w1", 1, LEASE)
        assert delivery.attempt == attempt
        assert await outbox.retry_later(delivery.id, "w1", f"503 busy ({attempt})")
        clock.advance(retry.cap)
    assert await outbox.claim("w1", 1, LEASE) == []
    stored = await outbox.delivery(delivery.id)
    assert stored is not None
    assert stored.status == DeliveryStatus.PERMANENT_FAILURE
    assert stored.last_error == "503 busy (4) (gave up after 4 attempts)"
    assert stored.next_attempt_at is None
    attempts = await outbox.attempts(delivery.id)
    assert [a.error for a in attempts] == [f"503 busy ({n})" for n in range(1, 5)]
    assert {a.outcome for a in attempts} == {AttemptOutcome.TEMPORARY_FAILURE}


async def test_a_delivery_that_keeps_killing_workers_is_given_up(
    outbox: Outbox, clock: ManualClock, retry: RetryPolicy
) -> None:
    await publish(outbox, 1)
    for attempt in range(retry.max_attempts):
        (delivery,) = await outbox.claim(f"w{attempt}", 1, LEASE)
        clock.advance(LEASE)  # the worker dies mid-send every time
    assert await outbox.claim("survivor", 1, LEASE) == []
    stored = await outbox.delivery(delivery.id)
    assert stored is not None
    assert stored.status == DeliveryStatus.TECHNICAL_FAILURE
    assert stored.last_error == "gave up: the lease expired on all 4 attempts"
    attempts = await outbox.attempts(delivery.id)
    assert [a.outcome for a in attempts] == [AttemptOutcome.LEASE_EXPIRED] * 4


async def test_failures_are_recorded_with_their_errors(outbox: Outbox) -> None:
    publication_id = await publish(outbox, 2)
    bounced, broken = await outbox.claim("w1", 2, LEASE)
    assert await outbox.fail(bounced.id, "w1", "550 5.1.1 user unknown")
    assert await outbox.fail(
        broken.id, "w1", "template error: 'contacts' undefined", technical=True
    )
    assert await outbox.progress(publication_id) == {
        "citizens": {DeliveryStatus.PERMANENT_FAILURE: 1, DeliveryStatus.TECHNICAL_FAILURE: 1}
    }
    (attempt,) = await outbox.attempts(bounced.id)
    assert (attempt.outcome, attempt.error, attempt.worker) == (
        AttemptOutcome.PERMANENT_FAILURE,
        "550 5.1.1 user unknown",
        "w1",
    )
    assert attempt.finished_at is not None
    assert attempt.finished_at >= attempt.started_at
    stored = await outbox.delivery(broken.id)
    assert stored is not None
    assert stored.last_error == "template error: 'contacts' undefined"


async def test_release_hands_deliveries_back_unattempted(
    outbox: Outbox, clock: ManualClock
) -> None:
    publication_id = await publish(outbox, 4)
    retried, *held = await outbox.claim("w1", 3, LEASE)
    (others,) = await outbox.claim("w2", 5, LEASE)
    assert await outbox.retry_later(retried.id, "w1", "421 busy")
    clock.advance(timedelta(seconds=10))  # its backoff; the leases are still live
    (retried_again,) = await outbox.claim("w1", 1, LEASE)
    assert (retried_again.id, retried_again.attempt) == (retried.id, 2)

    assert await outbox.release("w1") == 3
    assert await outbox.release("w1") == 0
    stored = await outbox.delivery(retried_again.id)
    assert stored is not None
    assert (stored.status, stored.attempts, stored.lease_owner) == ("temporary-failure", 1, None)
    assert [a.outcome for a in await outbox.attempts(retried.id)] == ["temporary-failure"]
    assert await outbox.attempts(held[0].id) == []
    assert await outbox.progress(publication_id) == {
        "citizens": {
            DeliveryStatus.CREATED: 2,
            DeliveryStatus.TEMPORARY_FAILURE: 1,
            DeliveryStatus.SENDING: 1,  # w2's lease is untouched
        }
    }
    reclaimed = await outbox.claim("w3", 5, LEASE)
    assert {d.id for d in reclaimed} == {retried.id, *(d.id for d in held)}
    assert sorted(d.attempt for d in reclaimed) == [1, 1, 2]
    assert await outbox.complete(others.id, "w2")


async def test_cancel_withdraws_queued_deliveries_for_a_recipient(
    outbox: Outbox, clock: ManualClock
) -> None:
    first = await publish(outbox, 3)
    second = await publish(outbox, 3)
    (in_flight,) = await outbox.claim("w1", 1, LEASE)  # person0 of the first publication
    assert await outbox.complete(in_flight.id, "w1")
    (live,) = await outbox.claim("w1", 1, LEASE)  # person1 of the first publication

    assert await outbox.cancel(recipient="person0@example.vn", reason="unsubscribed") == 1
    assert await outbox.cancel(recipient="person1@example.vn", channel="citizens") == 1
    assert await outbox.cancel(recipient="person1@example.vn", channel="partners") == 0
    assert await outbox.progress(first) == {
        "citizens": {
            DeliveryStatus.DELIVERED: 1,  # already sent: left alone
            DeliveryStatus.SENDING: 1,  # a live lease is not interrupted
            DeliveryStatus.CREATED: 1,
        }
    }
    assert await outbox.progress(second) == {
        "citizens": {DeliveryStatus.CANCELLED: 2, DeliveryStatus.CREATED: 1}
    }
    claimed = await outbox.claim("w2", 10, LEASE)
    assert {d.recipient for d in claimed} == {"person2@example.vn"}
    assert await outbox.complete(live.id, "w1")


async def test_cancel_reaches_deliveries_whose_worker_died(
    outbox: Outbox, clock: ManualClock
) -> None:
    publication_id = await publish(outbox, 2)
    (abandoned,) = await outbox.claim("w1", 1, LEASE)
    clock.advance(LEASE)
    assert await outbox.cancel([abandoned.id]) == 1
    assert await outbox.cancel([]) == 0
    stored = await outbox.delivery(abandoned.id)
    assert stored is not None
    assert (stored.status, stored.last_error, stored.lease_owner) == (
        "cancelled",
        "cancelled",
        None,
    )
    assert [a.outcome for a in await outbox.attempts(abandoned.id)] == ["lease-expired"]
    assert await outbox.complete(abandoned.id, "w1") is False
    assert await outbox.cancel(publication_id=publication_id) == 1
    assert await outbox.progress(publication_id) == {"citizens": {DeliveryStatus.CANCELLED: 2}}
    with pytest.raises(ValueError, match="cancel needs"):
        await outbox.cancel(channel="citizens")


async def test_a_worker_can_withdraw_a_delivery_it_holds(outbox: Outbox) -> None:
    publication_id = await publish(outbox, 1)
    (delivery,) = await outbox.claim("w1", 1, LEASE)
    assert await outbox.withdraw(delivery.id, "w2", "unsubscribed") is False
    assert await outbox.withdraw(delivery.id, "w1", "unsubscribed") is True
    assert await outbox.progress(publication_id) == {"citizens": {DeliveryStatus.CANCELLED: 1}}
    (attempt,) = await outbox.attempts(delivery.id)
    assert (attempt.outcome, attempt.error) == (AttemptOutcome.CANCELLED, "unsubscribed")
    assert await outbox.claim("w1", 1, LEASE) == []


async def test_claims_lock_rows_on_postgresql_and_the_database_on_sqlite(
    database: ScratchDatabase, engine: AsyncEngine, outbox: Outbox
) -> None:
    await publish(outbox, 1)
    statements: list[str] = []

    def record(*args: object) -> None:
        statements.append(str(args[2]))  # (conn, cursor, statement, ...)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        assert len(await outbox.claim("w1", 5, LEASE)) == 1
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
    if database.dialect == "postgresql":
        assert any("FOR UPDATE OF deliveries SKIP LOCKED" in s for s in statements)
    else:
        # A read-only look first, then the claim itself under the one write lock.
        start = statements.index("BEGIN IMMEDIATE")
        assert all(s.startswith(("BEGIN DEFERRED", "SELECT")) for s in statements[:start])
        assert any(s.startswith("UPDATE deliveries") for s in statements[start:])


async def test_a_claim_that_finds_nothing_takes_no_write_lock_on_sqlite(tmp_path: Path) -> None:
    # SQLite only (one write lock per database file): not run on PostgreSQL at all.
    engine = sqlite_database(tmp_path).engine()
    await upgrade_engine(engine)
    outbox = Outbox(engine)
    statements: list[str] = []

    def record(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        assert await outbox.claim("w1", 5, LEASE) == []
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
        await dispose_engine(engine)
    assert statements
    assert "BEGIN IMMEDIATE" not in statements

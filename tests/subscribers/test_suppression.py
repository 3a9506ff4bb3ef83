"""Bounces, suppressions, erasure and the cancelling of queued mail, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncEngine

from broadcaster.outbox.outbox import Outbox
from broadcaster.outbox.tables import DeliveryStatus, PublicationSource, deliveries
from broadcaster.store.registry import metadata
from broadcaster.store.testing import ManualClock
from broadcaster.subscribers.addresses import AddressHasher
from broadcaster.subscribers.store import SOFT_BOUNCE_WINDOW, SqlSubscriberStore
from broadcaster.subscribers.tables import suppressions
from broadcaster.workspace.models import Frequency
from tests.subscribers.conftest import SECRET

ADDRESS = "Minh.Tran@Example.VN"


async def confirmed(store: SqlSubscriberStore, email: str = ADDRESS) -> int:
    outcome = await store.request(
        email,
        locale="vi",
        topics=["online-services"],
        frequency=Frequency.IMMEDIATE,
        ip="198.51.100.1",
        form="web",
    )
    assert outcome.subscriber_id is not None
    assert await store.confirm(outcome.subscriber_id, ip="198.51.100.1")
    return outcome.subscriber_id


async def queue_for(outbox: Outbox, *recipients: str, channel: str = "citizens") -> list[int]:
    """One publication with a queued delivery for each recipient; their ids."""
    publication_id, _ = await outbox.create_publication(
        "online-submission", "rev1", [channel], source=PublicationSource.CLI
    )
    await outbox.enqueue(publication_id, [(channel, r, "vi") for r in recipients])
    async with engine_of(outbox).connect() as conn:
        query = select(deliveries.c.id).where(deliveries.c.publication_id == publication_id)
        return list((await conn.execute(query.order_by(deliveries.c.id))).scalars())


def engine_of(outbox: Outbox) -> AsyncEngine:
    return outbox._engine


async def status_of(outbox: Outbox, delivery_id: int) -> DeliveryStatus:
    delivery = await outbox.delivery(delivery_id)
    assert delivery is not None
    return delivery.status


async def test_a_hard_bounce_suppresses_at_once(store: SqlSubscriberStore) -> None:
    subscriber_id = await confirmed(store)
    assert await store.record_bounce("minh.tran@example.vn", hard=True)
    assert await store.is_suppressed(ADDRESS)
    assert await store.sendable([subscriber_id]) == {}
    outcome = await store.request(
        ADDRESS,
        locale="vi",
        topics=["online-services"],
        frequency=Frequency.DAILY,
        ip=None,
        form="json",
    )
    assert (outcome.subscriber_id, outcome.send_confirmation) == (None, False)


async def test_three_soft_bounces_suppress(store: SqlSubscriberStore, clock: ManualClock) -> None:
    subscriber_id = await confirmed(store)
    assert not await store.record_bounce(ADDRESS, hard=False)
    clock.advance(timedelta(days=2))
    assert not await store.record_bounce(ADDRESS, hard=False)
    assert await store.sendable([subscriber_id]) != {}
    clock.advance(timedelta(days=2))
    assert await store.record_bounce(ADDRESS, hard=False)
    assert await store.is_suppressed(ADDRESS)
    assert await store.sendable([subscriber_id]) == {}
    assert await store.record_bounce(ADDRESS, hard=False)  # stays suppressed


async def test_soft_bounces_far_apart_never_add_up(
    store: SqlSubscriberStore, clock: ManualClock
) -> None:
    await confirmed(store)
    for _ in range(5):
        assert not await store.record_bounce(ADDRESS, hard=False)
        clock.advance(SOFT_BOUNCE_WINDOW + timedelta(seconds=1))
    assert not await store.is_suppressed(ADDRESS)


async def test_soft_bounces_for_unknown_addresses_are_not_counted(
    store: SqlSubscriberStore,
) -> None:
    for _ in range(4):
        assert not await store.record_bounce("desk@example.vn", hard=False)
    assert not await store.is_suppressed("desk@example.vn")
    assert await store.record_bounce("desk@example.vn", hard=True)
    assert await store.is_suppressed("DESK@example.vn")  # case does not escape a suppression


async def test_unsubscribe_cancels_a_queued_delivery(
    store: SqlSubscriberStore, outbox: Outbox
) -> None:
    leaving = await confirmed(store)
    staying = await confirmed(store, "other@example.vn")
    leaving_delivery, staying_delivery = await queue_for(outbox, str(leaving), str(staying))
    assert await store.unsubscribe(leaving, ip=None, how="one-click")
    assert await status_of(outbox, leaving_delivery) is DeliveryStatus.CANCELLED
    assert await status_of(outbox, staying_delivery) is DeliveryStatus.CREATED
    claimed = await outbox.claim("worker", 10, timedelta(seconds=30))
    assert [d.id for d in claimed] == [staying_delivery]
    assert list(await store.sendable([leaving, staying])) == [staying]


async def test_cancelling_can_be_limited_to_the_subscriber_channels(
    engine: AsyncEngine, clock: ManualClock, outbox: Outbox
) -> None:
    store = SqlSubscriberStore(engine, SECRET, clock, subscriber_channels=["citizens"])
    subscriber_id = await confirmed(store)
    (mail,) = await queue_for(outbox, str(subscriber_id))
    (other,) = await queue_for(outbox, str(subscriber_id), channel="partners")
    assert await store.unsubscribe(subscriber_id, ip=None, how="mailto")
    assert await status_of(outbox, mail) is DeliveryStatus.CANCELLED
    assert await status_of(outbox, other) is DeliveryStatus.CREATED


async def test_suppressing_cancels_queued_deliveries(
    store: SqlSubscriberStore, outbox: Outbox
) -> None:
    subscriber_id = await confirmed(store)
    (delivery_id,) = await queue_for(outbox, str(subscriber_id))
    await store.suppress(ADDRESS, "complaint")
    assert await status_of(outbox, delivery_id) is DeliveryStatus.CANCELLED


async def all_text(engine: AsyncEngine) -> str:
    """Every value in every table, as one lower-cased string."""
    parts: list[str] = []
    async with engine.connect() as conn:
        for table in metadata.sorted_tables:
            assert isinstance(table, Table)
            for row in await conn.execute(select(table)):
                parts.extend(str(value) for value in row)
    return "\n".join(parts).lower()


async def test_delete_erases_the_address_everywhere_and_blocks_resubscribing(
    store: SqlSubscriberStore, engine: AsyncEngine, outbox: Outbox, clock: ManualClock
) -> None:
    subscriber_id = await confirmed(store)
    await store.update_preferences(
        subscriber_id,
        topics=["support-contacts"],
        locale="en",
        frequency=Frequency.DAILY,
        ip="1.2.3.4",
    )
    failed, queued = await queue_for(outbox, str(subscriber_id), str(subscriber_id) + "0")
    # A failed delivery whose SMTP reply quotes the address.
    (claimed,) = await outbox.claim("w", 1, timedelta(minutes=1))  # the oldest: `failed`
    assert claimed.id == failed
    await outbox.fail(claimed.id, "w", f"550 5.1.1 <{ADDRESS.lower()}>: no such user")
    assert ADDRESS.lower() in await all_text(engine)

    assert await store.delete(subscriber_id)
    assert not await store.delete(subscriber_id)
    text = await all_text(engine)
    assert "minh.tran" not in text
    assert "1.2.3.4" not in text  # the consent records went too
    assert await store.get(subscriber_id) is None
    assert await store.export_data(subscriber_id) is None
    async with engine.connect() as conn:
        (row,) = (await conn.execute(select(suppressions))).all()
    assert row.email_hash == AddressHasher(SECRET)("minh.tran@example.vn")
    assert row.reason == "deleted"
    assert await status_of(outbox, failed) is DeliveryStatus.PERMANENT_FAILURE
    assert await status_of(outbox, queued) is DeliveryStatus.CREATED  # someone else's

    outcome = await store.request(
        ADDRESS,
        locale="vi",
        topics=["online-services"],
        frequency=Frequency.DAILY,
        ip=None,
        form="web",
    )
    assert (outcome.subscriber_id, outcome.send_confirmation) == (None, False)
    # An erased subscriber's id is never given to the next one (tokens carry ids).
    newcomer = await confirmed(store, "newcomer@example.vn")
    assert newcomer > subscriber_id


async def test_delete_cancels_queued_mail(store: SqlSubscriberStore, outbox: Outbox) -> None:
    subscriber_id = await confirmed(store)
    (delivery_id,) = await queue_for(outbox, str(subscriber_id))
    assert await store.delete(subscriber_id)
    assert await status_of(outbox, delivery_id) is DeliveryStatus.CANCELLED

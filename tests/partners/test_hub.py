"""WebSub subscriptions in the store: leases expire, renewals replace them, secrets stay
sealed, and the protocol's requests are checked field by field."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from broadcaster.partners.hub import HubStore, recipient, subscription_id_of
from broadcaster.partners.tables import websub_subscriptions
from broadcaster.partners.websub import HubRequestError, LeaseLimits, parse_request, signature
from broadcaster.store.testing import ManualClock

TOPIC = "https://thongtin.example.gov.vn/feeds/vi/all.rss"
OTHER = "https://thongtin.example.gov.vn/feeds/en/all.atom"
CALLBACK = "https://newsroom.example.vn/websub"
KEY = b"k" * 32
LIMITS = LeaseLimits(default=864000, minimum=3600, maximum=2592000)


async def active_ids(store: HubStore, topics: list[str]) -> list[int]:
    return [sid for batch in [b async for b in store.active(topics, batch=2)] for sid, _ in batch]


async def test_a_lease_expires_and_a_renewal_starts_a_new_one(engine: AsyncEngine) -> None:
    clock = ManualClock()
    store = HubStore(engine, lambda: KEY, clock=clock)
    first = await store.subscribe(TOPIC, CALLBACK, "vi", 3600, "s3cret")
    assert await active_ids(store, [TOPIC]) == [first.id]
    assert await active_ids(store, [OTHER]) == []
    clock.advance(timedelta(seconds=3599))
    assert await active_ids(store, [TOPIC]) == [first.id]
    renewed = await store.subscribe(TOPIC, CALLBACK, "vi", 7200, None)
    assert renewed.id == first.id  # the same subscription, a new lease, no secret now
    clock.advance(timedelta(seconds=7199))
    assert await active_ids(store, [TOPIC]) == [first.id]
    found = (await store.find([first.id]))[first.id]
    assert found.secret is None
    clock.advance(timedelta(seconds=1))
    assert await active_ids(store, [TOPIC]) == []
    assert await store.count_active() == 0
    # Expired subscriptions are swept on the next subscription request.
    await store.subscribe(OTHER, CALLBACK, "en", 3600, None)
    assert await store.find([first.id]) == {}


async def test_secrets_are_sealed_in_the_store_and_opened_for_sending(
    engine: AsyncEngine,
) -> None:
    store = HubStore(engine, lambda: KEY)
    made = await store.subscribe(TOPIC, CALLBACK, "vi", 3600, "s3cret")
    async with engine.connect() as conn:
        stored = (await conn.execute(select(websub_subscriptions.c.secret))).scalar_one()
    assert stored != "s3cret"
    assert "s3cret" not in stored
    assert (await store.find([made.id]))[made.id].secret == "s3cret"
    assert "s3cret" not in repr(made)


async def test_many_subscriptions_are_listed_in_batches_and_unsubscribed_one_by_one(
    engine: AsyncEngine,
) -> None:
    store = HubStore(engine, lambda: KEY)
    made = [await store.subscribe(TOPIC, f"{CALLBACK}/{n}", "vi", 3600, None) for n in range(5)]
    assert await active_ids(store, [TOPIC, OTHER]) == [s.id for s in made]
    assert await store.unsubscribe(TOPIC, f"{CALLBACK}/2")
    assert not await store.unsubscribe(TOPIC, f"{CALLBACK}/2")
    await store.remove(made[0].id)
    assert await active_ids(store, [TOPIC]) == [made[1].id, made[3].id, made[4].id]


def test_recipients_name_their_subscription() -> None:
    assert subscription_id_of(recipient(42)) == 42
    assert subscription_id_of("42/vi") is None
    assert subscription_id_of("") is None


def test_a_request_gets_a_lease_within_the_hubs_limits() -> None:
    form = {"hub.mode": "subscribe", "hub.topic": TOPIC, "hub.callback": CALLBACK}
    assert parse_request(form, LIMITS).lease_seconds == 864000
    assert parse_request({**form, "hub.lease_seconds": "60"}, LIMITS).lease_seconds == 3600
    assert parse_request({**form, "hub.lease_seconds": "9999999"}, LIMITS).lease_seconds == 2592000
    assert parse_request({**form, "hub.secret": "x" * 199}, LIMITS).secret == "x" * 199


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"hub.mode": ""}, "hub.mode is missing"),
        ({"hub.mode": "publish"}, "hub.mode must be"),
        ({"hub.topic": ""}, "hub.topic is missing"),
        ({"hub.callback": "javascript:alert(1)"}, "hub.callback"),
        ({"hub.callback": "https://user:pw@newsroom.example.vn/"}, "hub.callback"),
        ({"hub.lease_seconds": "-5"}, "hub.lease_seconds"),
        ({"hub.secret": "é" * 100}, "hub.secret"),  # 200 bytes in UTF-8
    ],
)
def test_a_request_that_cannot_be_taken_names_the_field(change: dict[str, str], named: str) -> None:
    form = {"hub.mode": "subscribe", "hub.topic": TOPIC, "hub.callback": CALLBACK, **change}
    with pytest.raises(HubRequestError, match=named):
        parse_request(form, LIMITS)


def test_the_signature_is_the_hex_hmac_sha256_of_the_body() -> None:
    # RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
    assert signature("Jefe", b"what do ya want for nothing?") == (
        "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    )

"""Subscribing, confirming, preferences and unsubscribing, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from broadcaster.store.testing import ManualClock
from broadcaster.subscribers.addresses import InvalidAddress, NonAsciiLocalPart
from broadcaster.subscribers.api import (
    CONSENT_WORDING_VERSION,
    SubscribeOutcome,
    SubscriberStatus,
    SubscriberStore,
)
from broadcaster.subscribers.store import RESEND_CONFIRMATION_AFTER, SqlSubscriberStore
from broadcaster.subscribers.tables import consents
from broadcaster.workspace.models import Frequency

IP = "203.0.113.7"


async def ask(
    store: SubscriberStore,
    email: str = "Lan.Nguyen@Example.VN",
    topics: tuple[str, ...] = ("online-services",),
    frequency: Frequency = Frequency.IMMEDIATE,
    locale: str = "vi",
) -> SubscribeOutcome:
    return await store.request(
        email, locale=locale, topics=topics, frequency=frequency, ip=IP, form="web"
    )


async def consent_actions(engine: AsyncEngine, subscriber_id: int) -> list[tuple[str, str]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(consents.c.action, consents.c.form)
            .where(consents.c.subscriber_id == subscriber_id)
            .order_by(consents.c.id)
        )
        return [(row.action, row.form) for row in rows]


def test_the_sql_store_implements_the_interface(store: SqlSubscriberStore) -> None:
    implementation: SubscriberStore = store
    assert implementation is store


async def test_a_new_address_is_pending_with_a_consent_record(
    store: SqlSubscriberStore, engine: AsyncEngine, clock: ManualClock
) -> None:
    outcome = await ask(store, topics=("online-services", "support-contacts"))
    assert outcome.subscriber_id is not None
    assert outcome.send_confirmation
    subscriber = await store.get(outcome.subscriber_id)
    assert subscriber is not None
    assert subscriber.email == "Lan.Nguyen@example.vn"  # domain lower-cased, local part kept
    assert subscriber.status is SubscriberStatus.PENDING
    assert subscriber.topics == ("online-services", "support-contacts")
    assert subscriber.frequency is Frequency.IMMEDIATE
    assert subscriber.created_at == clock.now
    assert subscriber.created_at.tzinfo is not None
    assert subscriber.confirmed_at is None
    assert subscriber.token_version == 0
    data = await store.export_data(outcome.subscriber_id)
    assert data is not None
    (record,) = data["consents"]
    assert record == {
        "action": "subscribe",
        "at": clock.now.isoformat(),
        "ip": IP,
        "form": "web",
        "wording_version": CONSENT_WORDING_VERSION,
        "note": None,
    }
    json.dumps(data)  # JSON-ready


async def test_known_and_unknown_addresses_get_the_same_outcome_shape(
    store: SqlSubscriberStore, clock: ManualClock
) -> None:
    new = await ask(store, "new@example.vn")
    first = await ask(store, "known@example.vn")
    assert first.subscriber_id is not None
    clock.advance(RESEND_CONFIRMATION_AFTER)
    again = await ask(store, "known@example.vn")
    assert type(new) is type(again) is SubscribeOutcome
    assert again == SubscribeOutcome(subscriber_id=first.subscriber_id, send_confirmation=True)
    assert new.send_confirmation


async def test_asking_again_soon_sends_no_second_confirmation_but_keeps_the_choice(
    store: SqlSubscriberStore, clock: ManualClock, engine: AsyncEngine
) -> None:
    first = await ask(store)
    clock.advance(RESEND_CONFIRMATION_AFTER - timedelta(seconds=1))
    second = await ask(store, "lan.nguyen@EXAMPLE.vn", topics=("covid-19-measures",))
    assert second == SubscribeOutcome(first.subscriber_id, send_confirmation=False)
    assert first.subscriber_id is not None
    subscriber = await store.get(first.subscriber_id)
    assert subscriber is not None
    assert subscriber.topics == ("covid-19-measures",)
    clock.advance(timedelta(seconds=1))
    third = await ask(store)
    assert third == SubscribeOutcome(first.subscriber_id, send_confirmation=True)
    assert await consent_actions(engine, first.subscriber_id) == [("subscribe", "web")] * 3


async def test_confirm_is_idempotent_and_a_confirmed_address_gets_no_confirmation(
    store: SqlSubscriberStore, engine: AsyncEngine, clock: ManualClock
) -> None:
    outcome = await ask(store)
    assert outcome.subscriber_id is not None
    clock.advance(timedelta(hours=1))
    assert await store.confirm(outcome.subscriber_id, ip=IP)
    assert await store.confirm(outcome.subscriber_id, ip=IP)
    subscriber = await store.get(outcome.subscriber_id)
    assert subscriber is not None
    assert subscriber.status is SubscriberStatus.CONFIRMED
    assert subscriber.confirmed_at == clock.now
    clock.advance(timedelta(days=1))
    again = await ask(store, topics=("covid-19-measures",))
    assert again == SubscribeOutcome(outcome.subscriber_id, send_confirmation=False)
    unchanged = await store.get(outcome.subscriber_id)
    assert unchanged == subscriber  # a form cannot change a confirmed subscriber's choices
    assert await consent_actions(engine, outcome.subscriber_id) == [
        ("subscribe", "web"),
        ("confirm", "web"),
    ]


async def test_confirming_unknown_ids_fails(store: SqlSubscriberStore) -> None:
    assert not await store.confirm(404, ip=None)
    assert await store.get(404) is None
    assert await store.export_data(404) is None
    assert not await store.update_preferences(
        404, topics=["online-services"], locale="vi", frequency=Frequency.DAILY, ip=None
    )
    assert not await store.unsubscribe(404, ip=None, how="one-click")
    assert not await store.delete(404)


async def test_unsubscribe_is_idempotent_and_resubscribing_starts_over(
    store: SqlSubscriberStore, engine: AsyncEngine, clock: ManualClock
) -> None:
    outcome = await ask(store)
    assert outcome.subscriber_id is not None
    subscriber_id = outcome.subscriber_id
    await store.confirm(subscriber_id, ip=IP)
    clock.advance(timedelta(days=3))
    assert await store.unsubscribe(subscriber_id, ip=IP, how="one-click")
    unsubscribed_at = clock.now
    clock.advance(timedelta(minutes=1))
    assert await store.unsubscribe(subscriber_id, ip=IP, how="one-click")
    subscriber = await store.get(subscriber_id)
    assert subscriber is not None
    assert subscriber.status is SubscriberStatus.UNSUBSCRIBED
    assert subscriber.unsubscribed_at == unsubscribed_at
    assert not await store.confirm(subscriber_id, ip=IP)  # an old confirm link: subscribe again
    assert await consent_actions(engine, subscriber_id) == [
        ("subscribe", "web"),
        ("confirm", "web"),
        ("unsubscribe", "one-click"),
    ]
    again = await ask(store)
    assert again == SubscribeOutcome(subscriber_id, send_confirmation=True)
    back = await store.get(subscriber_id)
    assert back is not None
    assert back.status is SubscriberStatus.PENDING
    assert (back.confirmed_at, back.unsubscribed_at) == (None, None)


async def test_preferences_change_with_a_consent_record(
    store: SqlSubscriberStore, engine: AsyncEngine
) -> None:
    outcome = await ask(store)
    assert outcome.subscriber_id is not None
    await store.confirm(outcome.subscriber_id, ip=IP)
    assert await store.update_preferences(
        outcome.subscriber_id,
        topics=["support-contacts", "support-contacts", "one-stop-counters"],
        locale="en",
        frequency=Frequency.WEEKLY,
        ip=IP,
    )
    subscriber = await store.get(outcome.subscriber_id)
    assert subscriber is not None
    assert (subscriber.topics, subscriber.locale, subscriber.frequency) == (
        ("support-contacts", "one-stop-counters"),
        "en",
        Frequency.WEEKLY,
    )
    assert subscriber.status is SubscriberStatus.CONFIRMED
    data = await store.export_data(outcome.subscriber_id)
    assert data is not None
    assert data["consents"][-1]["note"] == (
        "topics=support-contacts;one-stop-counters locale=en frequency=weekly"
    )


@pytest.mark.parametrize("address", ["", "no-at-sign", "two@@example.vn", "a@b", "x@-bad-.vn"])
async def test_invalid_addresses_are_refused_with_a_clear_message(
    store: SqlSubscriberStore, address: str
) -> None:
    with pytest.raises(InvalidAddress, match="is not a valid email address"):
        await ask(store, address)


async def test_requests_without_topics_or_with_unknown_forms_are_refused(
    store: SqlSubscriberStore,
) -> None:
    with pytest.raises(ValueError, match="at least one topic"):
        await ask(store, topics=())
    with pytest.raises(ValueError):
        await store.request(
            "a@example.vn",
            locale="vi",
            topics=["online-services"],
            frequency=Frequency.DAILY,
            ip=None,
            form="carrier-pigeon",
        )


async def test_concurrent_requests_for_one_address_make_one_subscriber(
    store: SqlSubscriberStore,
) -> None:
    outcomes = await asyncio.gather(*(ask(store) for _ in range(5)))
    assert len({outcome.subscriber_id for outcome in outcomes}) == 1
    assert sum(outcome.send_confirmation for outcome in outcomes) == 1


async def test_confirmations_due_imports_at_once_and_web_requests_after_a_minute(
    store: SqlSubscriberStore, engine: AsyncEngine, clock: ManualClock
) -> None:
    """A subscribe's email is sent at once by the web app; the sweep only sends it if
    that has not worked a minute later. Imports are due straight away."""
    from broadcaster.subscribers.bulk import import_subscribers
    from broadcaster.subscribers.csvio import CsvSubscriber
    from broadcaster.subscribers.mailing import CONFIRMATION_SWEEP_AFTER
    from tests.subscribers.conftest import SECRET

    web = await ask(store, "web@example.vn")
    assert web.send_confirmation
    assert web.subscriber_id is not None
    rows = [CsvSubscriber(2, "imported@example.vn", "en", ("online-services",), Frequency.DAILY)]
    imported = await import_subscribers(
        engine, SECRET, rows, confirmed=False, note=None, clock=clock
    )
    ((subscriber_id, email, locale),) = imported.needs_confirmation
    due = await store.confirmations_due()
    assert [(r.id, r.email, r.locale) for r in due] == [(subscriber_id, email, locale)]
    await store.mark_confirmation_sent([subscriber_id])
    assert await store.confirmations_due() == []

    clock.advance(CONFIRMATION_SWEEP_AFTER)
    assert [r.email for r in await store.confirmations_due()] == ["web@example.vn"]
    await store.postpone_confirmation([web.subscriber_id], clock() + timedelta(minutes=5))
    assert await store.confirmations_due() == []
    later = clock() + timedelta(minutes=5)
    assert [r.email for r in await store.confirmations_due(due_by=later)] == ["web@example.vn"]
    assert await store.confirm(web.subscriber_id, ip=None)
    assert await store.confirmations_due(due_by=later) == []  # confirmed: nothing owed


async def test_addresses_are_kept_as_smtp_carries_them_and_non_ascii_local_parts_refused(
    store: SqlSubscriberStore,
) -> None:
    """An internationalised domain is kept in its IDNA form; a local part outside ASCII
    would need SMTPUTF8, which the list does not use, so it is refused with the reason."""
    outcome = await ask(store, "Hoa@Bücher.Example")
    assert outcome.subscriber_id is not None
    subscriber = await store.get(outcome.subscriber_id)
    assert subscriber is not None
    assert subscriber.email == "Hoa@xn--bcher-kva.example"
    again = await ask(store, "Hoa@xn--bcher-kva.example")
    assert again.subscriber_id == outcome.subscriber_id  # one subscriber, either spelling
    with pytest.raises(NonAsciiLocalPart, match="SMTPUTF8") as refused:
        await ask(store, "nguyễn@example.vn")
    assert "give an address without accents" in str(refused.value)

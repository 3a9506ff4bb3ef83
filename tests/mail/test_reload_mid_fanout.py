"""A reload while a fan-out is on the wire: the batch in hand finishes on the connections it
started on, so no message waits out a retry backoff and none goes twice; what still runs
on the replaced channel once it is closed is tried again later, and reopens nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from broadcaster.outbox.tables import DeliveryStatus
from tests.alerts.conftest import (
    DIALECTS,
    by_recipient,
    database_for,
    publish,
    running_rig,
    subscribe,
)
from tests.mail.conftest import Handler, Rig, relay
from tests.web.admin.conftest import wait_delivered, wait_for

READERS = 24


@pytest.fixture
def slow_relay() -> Iterator[tuple[Handler, int]]:
    """A relay that takes 0.1 s over each message: 24 take about 0.3 s on 8 connections."""
    with relay(Handler(delay=0.1)) as running:
        yield running


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_reloads_during_a_fanout_neither_delay_nor_repeat_a_message(
    dialect: str, tmp_path: Path, slow_relay: tuple[Handler, int]
) -> None:
    handler, _ = slow_relay
    async with database_for(dialect) as url, running_rig(tmp_path, slow_relay, url) as rig:
        readers = {f"reader{n:02}@example.vn" for n in range(READERS)}
        for reader in sorted(readers):
            await subscribe(rig, reader, "vi")
        publication = await publish(rig, channels=["citizens"])

        # Staff save twice while the first messages are on the wire.
        await wait_for(lambda: bool(handler.received))
        assert len(handler.received) < READERS, "the fan-out ended before the reload"
        assert await rig.staff.service.reload()
        assert await rig.staff.service.reload()

        await wait_delivered(rig.staff, publication, {"citizens": READERS})
        assert set(by_recipient(rig, 0)) == readers  # each once
        detail = await rig.staff.api("GET", f"/publications/{publication}", "ana")
        tries = {(row["attempt"], row["outcome"], row["error"]) for row in detail["attempts"]}
        assert tries == {(1, "delivered", None)}


@pytest.fixture
def stalled_relay() -> Iterator[tuple[Handler, int]]:
    """A relay that takes each message's content and never answers it in time."""
    with relay(Handler(stall_data=True)) as running:
        yield running


async def test_a_batch_hung_past_the_lease_lets_go_of_the_replaced_connections(
    tmp_path: Path, stalled_relay: tuple[Handler, int], caplog: pytest.LogCaptureFixture
) -> None:
    def short_lease(root: Path) -> dict[str, str]:
        return {"BROADCASTER_LEASE_SECONDS": "2"}

    async with running_rig(tmp_path, stalled_relay, None, short_lease) as rig:
        await subscribe(rig, "lan@example.vn", "vi")
        publication = await publish(rig, channels=["citizens"])
        await wait_for(lambda: bool(stalled_relay[0].sessions))
        assert await rig.staff.service.reload()

        # After half a lease the replaced connections close: the message is tried again later,
        # a temporary failure with its reason, never a technical one.
        first: dict[str, Any] = {}
        for _ in range(100):
            detail = await rig.staff.api("GET", f"/publications/{publication}", "ana")
            first = next(row for row in detail["attempts"] if row["attempt"] == 1)
            if first["outcome"] is not None:
                break
            await asyncio.sleep(0.05)
        assert (first["outcome"], first["error"]) == (
            "temporary-failure",
            "the SMTP pool was closed",
        )
        assert detail["channels"]["citizens"]["failed"] == 0
        assert "still ran after 1 s" in caplog.text


async def test_a_closed_channel_tries_again_later_and_opens_nothing(
    smtp_rig: Rig, handler: Handler
) -> None:
    """What a batch still running on a channel a reload replaced (and closed) gets: its
    messages are tried again later, on the new channel; nothing reopens the old one."""
    await smtp_rig.subscribe("lan@example.vn")
    publication_id = await smtp_rig.publish()
    outbound = smtp_rig.channels["citizens"].outbound  # type: ignore[attr-defined]
    sender = outbound.sender()
    await smtp_rig.channels["citizens"].close()  # type: ignore[attr-defined]
    claimed = await smtp_rig.outbox.claim("w1", 10, smtp_rig.workers.settings.lease)
    await smtp_rig.workers._deliver_many("w1", claimed)

    assert handler.delivered() == []
    assert outbound.sender() is sender
    assert sender.transport.pool.opened == 0
    progress = await smtp_rig.outbox.progress(publication_id)
    assert dict(progress["citizens"]) == {DeliveryStatus.TEMPORARY_FAILURE: 1}
    (failed,) = await smtp_rig.outbox.attempt_log(publication_id)
    assert failed.error == "the SMTP pool was closed"

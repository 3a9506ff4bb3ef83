"""How often idle delivery loops ask the store, and which loops new work wakes.

Each look is a query that walks the queue; a node with a fan-out queued must not pay for
it once per loop and per poll, nor once per thousand recipients queued.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from broadcaster.outbox.tables import DeliveryStatus
from tests.conftest import copy_workspace
from tests.mail.conftest import Handler, Rig, make_rig

pytestmark = pytest.mark.asyncio


@dataclass
class Watched:
    rig: Rig
    looks: list[str]  # the worker id of every claim, in order


@asynccontextmanager
async def watched(tmp_path: Path, smtp_server: Controller, poll: float) -> AsyncIterator[Watched]:
    """The rig with four one-by-one loops and two batch loops polling every `poll`
    seconds, each claim noted; the workers are stopped at the end."""
    env = {
        "MAIL_TRANSPORT": "smtp",
        "SMTP_PORT": str(smtp_server.port),
        "BROADCASTER_SECRET_KEY": "k" * 40,
    }
    rig = await make_rig(copy_workspace(tmp_path / "ws"), env, poll_interval=poll, concurrency=4)
    looks: list[str] = []
    claim = rig.outbox.claim

    async def noted(worker_id: str, *args: Any, **kwargs: Any) -> Any:
        looks.append(worker_id)
        return await claim(worker_id, *args, **kwargs)

    rig.outbox.claim = noted  # type: ignore[method-assign]
    rig.publisher.on_enqueued = rig.workers.wake
    try:
        yield Watched(rig, looks)
    finally:
        await rig.workers.stop(5)
        await rig.close()


def one_by_one(looks: list[str]) -> list[str]:
    return [worker for worker in looks if ":bulk" not in worker]


async def test_an_idle_node_asks_once_per_poll_interval_not_once_per_loop(
    tmp_path: Path, smtp_server: Controller
) -> None:
    async with watched(tmp_path, smtp_server, poll=0.1) as node:
        node.rig.workers.start()
        await asyncio.sleep(0.3)  # every loop has looked once and gone idle
        node.looks.clear()
        await asyncio.sleep(1.0)
        looks = list(node.looks)
    # one poller among the four one-by-one loops: about ten looks a second, not forty
    assert 4 <= len(one_by_one(looks)) <= 14, looks
    assert len(set(one_by_one(looks))) == 1


async def test_a_fan_out_wakes_the_batch_loops_only_and_the_website_still_goes_at_once(
    tmp_path: Path, smtp_server: Controller, handler: Handler
) -> None:
    async with watched(tmp_path, smtp_server, poll=30.0) as node:
        rig, looks = node.rig, node.looks
        for number in range(12):
            await rig.subscribe(f"doc{number}@example.vn")
        rig.workers.start()
        await asyncio.sleep(0.2)
        looks.clear()
        fan_out = await rig.publish("citizens")
        assert await delivered(rig, fan_out, "citizens", 12)
        assert len(handler.delivered()) == 12
        assert one_by_one(looks) == []  # the fan-out woke no one-by-one loop
        website = await rig.publish("website")
        # Tried well before the 30 s poll, by a one-by-one loop: queueing it woke them.
        # (Only `serve` builds the site; this rig has none, so the try says so.)
        assert await settled(rig, website, "website")
        (logged,) = await rig.outbox.attempt_log(website)
        (attempt,) = await rig.outbox.attempts(logged.id)
        assert ":bulk" not in attempt.worker
        assert one_by_one(looks)


async def settled(rig: Rig, publication_id: int, channel: str) -> bool:
    """Whether every delivery on `channel` has an outcome within five seconds."""
    waiting = {DeliveryStatus.CREATED, DeliveryStatus.SENDING}
    for _ in range(100):
        progress = (await rig.outbox.progress(publication_id)).get(channel, {})
        if progress and not waiting & set(progress):
            return True
        await asyncio.sleep(0.05)
    return False


async def delivered(rig: Rig, publication_id: int, channel: str, count: int) -> bool:
    """Whether `count` deliveries on `channel` are delivered within five seconds."""
    for _ in range(100):
        progress = (await rig.outbox.progress(publication_id)).get(channel, {})
        if progress.get(DeliveryStatus.DELIVERED) == count:
            return True
        await asyncio.sleep(0.05)
    return False

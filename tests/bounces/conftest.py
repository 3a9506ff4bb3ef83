"""Fixtures: the real subscriber store on SQLite and PostgreSQL, and a bounce processor."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from broadcaster.bounces import BounceProcessor
from broadcaster.store.testing import (
    ManualClock,
)
from broadcaster.subscribers.store import SqlSubscriberStore
from broadcaster.workspace.models import Frequency
from tests.bounces.messages import SECRET, read_verp


@pytest.fixture
def store(engine: AsyncEngine) -> SqlSubscriberStore:
    return SqlSubscriberStore(engine, SECRET, ManualClock())


@pytest.fixture
def processor(store: SqlSubscriberStore) -> BounceProcessor:
    return BounceProcessor(store, read_verp)


async def subscribe(store: SqlSubscriberStore, email: str) -> int:
    """A confirmed subscriber; returns their id."""
    outcome = await store.request(
        email,
        locale="vi",
        topics=["online-services"],
        frequency=Frequency.IMMEDIATE,
        ip=None,
        form="web",
    )
    assert outcome.subscriber_id is not None
    assert await store.confirm(outcome.subscriber_id, ip=None)
    return outcome.subscriber_id

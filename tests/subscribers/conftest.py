"""Fixtures that run every subscriber store test on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from broadcaster.outbox.outbox import Outbox
from broadcaster.store.testing import (
    ManualClock,
)
from broadcaster.subscribers.store import SqlSubscriberStore
from broadcaster.subscribers.tokens import SignedTokens

SECRET = b"s" * 32


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def store(engine: AsyncEngine, clock: ManualClock) -> SqlSubscriberStore:
    return SqlSubscriberStore(engine, SECRET, clock)


@pytest.fixture
def outbox(engine: AsyncEngine, clock: ManualClock) -> Outbox:
    return Outbox(engine, clock=clock)


@pytest.fixture
def tokens(clock: ManualClock) -> SignedTokens:
    return SignedTokens(SECRET, clock)

"""Fixtures that run every store and outbox test on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from broadcaster.outbox.outbox import Outbox, RetryPolicy
from broadcaster.store.testing import (
    ManualClock,
)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def retry() -> RetryPolicy:
    return RetryPolicy(max_attempts=4, base=timedelta(seconds=10), cap=timedelta(seconds=60))


@pytest.fixture
def outbox(engine: AsyncEngine, clock: ManualClock, retry: RetryPolicy) -> Outbox:
    """An outbox on the manual clock whose backoff always waits the full ceiling."""
    return Outbox(engine, clock=clock, retry=retry, jitter=lambda: 1.0)

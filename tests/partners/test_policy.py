"""The webhook retry schedule and Retry-After, as the outbox applies them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from broadcaster.channels.webhook import RetryOptions, WebhookOptions
from broadcaster.outbox.retry import RetryPolicy
from broadcaster.partners.sender import retry_after

HOURS = [5 / 3600, 5 / 60, 0.5, 2, 5, 10, 14, 20, 24]


def policy() -> RetryPolicy:
    options = WebhookOptions(type="webhook")
    waits = [timedelta(seconds=s) for s in options.retry.schedule]
    return RetryPolicy.from_schedule(waits, options.retry.jitter)


def test_ten_attempts_on_the_standard_schedule_with_jitter() -> None:
    rules = policy()
    assert rules.max_attempts == 10
    for attempt, hours in enumerate(HOURS, start=1):
        wait = timedelta(hours=hours)
        assert rules.delay(attempt, 0.5) == wait
        assert rules.delay(attempt, 0.0) == wait * 0.9
        assert rules.delay(attempt, 1.0) == wait * 1.1


def test_retry_after_is_a_floor() -> None:
    rules = policy()
    assert rules.delay(1, 0.5, timedelta(seconds=120)) == timedelta(seconds=120)
    assert rules.delay(3, 0.5, timedelta(seconds=120)) == timedelta(minutes=30)


def test_retry_after_header_in_seconds_or_as_a_date() -> None:
    now = datetime(2021, 7, 10, 1, 0, tzinfo=UTC)
    assert retry_after("120", now) == timedelta(seconds=120)
    assert retry_after("Sat, 10 Jul 2021 01:05:00 GMT", now) == timedelta(minutes=5)
    assert retry_after("999999", now) == timedelta(hours=24)
    assert retry_after("soon", now) is None
    assert retry_after(None, now) is None


def test_durations_in_the_channel_file() -> None:
    assert RetryOptions(schedule=["1.5s", "2m", "1h", "1d", 30]).schedule == [
        1.5,
        120,
        3600,
        86400,
        30,
    ]
    with pytest.raises(ValueError, match="not a duration like 30s, 5m, 2h or 1d"):
        RetryOptions(schedule=["five minutes"])

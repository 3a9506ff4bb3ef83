"""Editor drafts on SQLite and PostgreSQL: one per person and campaign, claimed after sign-in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from broadcaster.staff.accounts import Accounts
from broadcaster.staff.drafts import DraftRefused, Drafts
from broadcaster.staff.tables import Role
from broadcaster.store.testing import ManualClock

FIELDS = [("editor", "form"), ("vi.title", "Tiêu đề có dấu"), ("topics", "a"), ("topics", "b")]


async def test_a_person_keeps_one_draft_per_campaign(engine: AsyncEngine) -> None:
    user, _ = await Accounts(engine).add_user("lan", Role.AUTHOR)
    drafts = Drafts(engine)
    await drafts.keep(user.id, "storm", "rev1", FIELDS[:2])
    await drafts.keep(user.id, "storm", "rev1", FIELDS)
    found = await drafts.mine(user.id, "storm")
    assert found is not None
    assert found.pairs == FIELDS  # repeated names and their order kept
    assert found.base_revision == "rev1"
    assert await drafts.mine(user.id, "other") is None
    await drafts.discard(user.id, "storm")
    assert await drafts.mine(user.id, "storm") is None


async def test_a_draft_kept_without_a_session_is_claimed_once_within_a_day(
    engine: AsyncEngine,
) -> None:
    clock = ManualClock(datetime(2026, 12, 2, 9, tzinfo=UTC))
    user, _ = await Accounts(engine).add_user("lan", Role.AUTHOR)
    drafts = Drafts(engine, clock=clock)
    await drafts.keep(user.id, "storm", "old", [("vi.title", "older draft")])
    token = await drafts.keep(None, "storm", "rev1", FIELDS)
    claimed = await drafts.claim(token, user.id)
    assert claimed is not None
    assert claimed.pairs == FIELDS
    mine = await drafts.mine(user.id, "storm")
    assert mine is not None
    assert mine.pairs == FIELDS  # it replaced the older draft
    assert await drafts.claim(token, user.id) is None  # once only
    late = await drafts.keep(None, "storm", "rev1", FIELDS)
    clock.advance(timedelta(days=1, minutes=1))
    assert await drafts.claim(late, user.id) is None  # forgotten after a day


async def test_drafts_kept_without_a_session_are_limited(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("broadcaster.staff.drafts.MAX_UNCLAIMED", 2)
    drafts = Drafts(engine)
    await drafts.keep(None, "storm", None, FIELDS)
    await drafts.keep(None, "storm", None, FIELDS)
    with pytest.raises(DraftRefused, match="too many"):
        await drafts.keep(None, "storm", None, FIELDS)
    with pytest.raises(DraftRefused, match="at most"):
        await drafts.keep(None, "storm", None, [("vi.body", "x" * 1_000_001)])

"""The fan-page store on SQLite and PostgreSQL: one post per page and campaign, updated in
place; one alert per channel, told to its listener once, cleared by a success."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from broadcaster.fanpages.store import Alert, FanpageStore, alert_mail
from broadcaster.fanpages.tables import PostState


async def test_a_post_is_kept_per_page_and_campaign_and_updated_in_place(
    engine: AsyncEngine,
) -> None:
    store = FanpageStore(engine)
    assert await store.post("fb", "1", "c") is None
    await store.save("fb", "1", "c", 7, PostState.PENDING, pending_token="t1")
    await store.save("fb", "1", "c", 7, PostState.PENDING, post_id="a1")
    await store.save("fb", "1", "other", 8, PostState.LIVE, post_id="a2")
    post = await store.post("fb", "1", "c")
    assert post is not None
    assert (post.state, post.post_id, post.pending_token, post.delivery_id) == (
        PostState.PENDING,
        "a1",
        "t1",
        7,
    )
    assert sorted(await store.live_pages("fb", "c")) == ["1"]
    await store.save("fb", "1", "c", 9, PostState.WITHDRAWN)
    assert await store.live_pages("fb", "c") == []
    withdrawn = await store.post("fb", "1", "c")
    assert withdrawn is not None
    assert (withdrawn.state, withdrawn.post_id, withdrawn.delivery_id) == (
        PostState.WITHDRAWN,
        "a1",
        9,
    )


async def test_an_alert_is_told_once_and_cleared_by_a_success(engine: AsyncEngine) -> None:
    told: list[Alert] = []

    async def listen(alert: Alert) -> None:
        told.append(alert)

    store = FanpageStore(engine, on_alert=listen)
    assert await store.raise_alert("fb", "token", "Graph API error 190 (token): expired", 3)
    assert not await store.raise_alert("fb", "token", "Graph API error 190 (token): again", 4)
    assert [(a.channel, a.delivery_id) for a in told] == [("fb", 3)]
    (alert,) = await store.alerts()
    assert alert.message == "Graph API error 190 (token): expired"
    subject, text = alert_mail(alert)
    assert "fb" in subject
    assert "docs/fanpages.md" in text
    assert await store.clear_alert("fb")
    assert not await store.clear_alert("fb")
    assert await store.alerts() == []
    assert await store.raise_alert("fb", "permission", "(#200) no permission", 5)
    assert len(told) == 2


async def test_a_listener_that_fails_leaves_the_alert_standing(engine: AsyncEngine) -> None:
    async def broken(alert: Alert) -> None:
        raise OSError("the relay is down")

    store = FanpageStore(engine, on_alert=broken)
    assert await store.raise_alert("zalo", "token", "-216", None)
    assert [a.channel for a in await store.alerts()] == ["zalo"]

"""Fan-page posts and channel alerts in the store: what is on each page, what has stopped.

A post is keyed by (channel, page, campaign): a correction finds the post to edit there, a
withdrawal the post to take down. An alert is one row per channel, raised by a delivery
that failed for good and cleared by the next one that goes through; `on_alert` hears of an
alert only when it is new, so the admins get one email per stop, not one per delivery.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from broadcaster.fanpages.tables import PostState, channel_alerts, fanpage_posts
from broadcaster.store.engine import insert_or_ignore, write_transaction

log = logging.getLogger(__name__)
p, a = fanpage_posts.c, channel_alerts.c


@dataclass(frozen=True)
class Post:
    """The post a campaign has on one page, as far as the store knows."""

    channel: str
    page: str
    campaign_id: str
    state: PostState
    post_id: str | None
    pending_token: str | None
    broadcast_id: str | None
    delivery_id: int


@dataclass(frozen=True)
class Alert:
    """A channel that stopped: why, since when, and the delivery that found out."""

    channel: str
    kind: str  # token, permission or rejected
    message: str
    delivery_id: int | None
    raised_at: datetime


AlertListener = Callable[[Alert], Awaitable[object]]


class FanpageStore:
    """Reads and writes `fanpage_posts` and `channel_alerts` (this wing owns both)."""

    def __init__(self, engine: AsyncEngine, on_alert: AlertListener | None = None) -> None:
        self.engine = engine
        # Told of each new alert (the service mails the admins); None: nobody is told.
        self.on_alert = on_alert

    async def post(self, channel: str, page: str, campaign_id: str) -> Post | None:
        """The campaign's post on `page` through `channel`, or None."""
        query = select(fanpage_posts).where(
            p.channel == channel, p.page == page, p.campaign_id == campaign_id
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        return Post(
            row.channel,
            row.page,
            row.campaign_id,
            PostState(row.state),
            row.post_id,
            row.pending_token,
            row.broadcast_id,
            row.delivery_id,
        )

    async def live_pages(self, channel: str, campaign_id: str) -> list[str]:
        """The pages where the campaign has a post up (or half made) through `channel`."""
        query = select(p.page).where(
            p.channel == channel,
            p.campaign_id == campaign_id,
            p.state.in_([PostState.LIVE, PostState.PENDING]),
        )
        async with self.engine.connect() as conn:
            return [row.page for row in await conn.execute(query)]

    async def save(
        self,
        channel: str,
        page: str,
        campaign_id: str,
        delivery_id: int,
        state: PostState,
        **values: str | None,
    ) -> None:
        """Record the post's state (and `post_id`, `pending_token`, `broadcast_id` given)."""
        now = datetime.now(UTC)
        key = {"channel": channel, "page": page, "campaign_id": campaign_id}
        changes = {"state": state.value, "delivery_id": delivery_id, "updated_at": now, **values}
        async with write_transaction(self.engine) as conn:
            statement = insert_or_ignore(conn.dialect, fanpage_posts, *key)
            inserted = await conn.execute(statement, {**key, **changes})
            if inserted.rowcount == 0:
                where = (p.channel == channel, p.page == page, p.campaign_id == campaign_id)
                await conn.execute(update(fanpage_posts).where(*where).values(**changes))

    async def raise_alert(
        self, channel: str, kind: str, message: str, delivery_id: int | None
    ) -> bool:
        """Open an alert for `channel` unless one is open; True (and `on_alert` told) when new."""
        alert = Alert(channel, kind, message, delivery_id, datetime.now(UTC))
        row = {
            "channel": channel,
            "kind": kind,
            "message": message,
            "delivery_id": delivery_id,
            "raised_at": alert.raised_at,
        }
        async with write_transaction(self.engine) as conn:
            statement = insert_or_ignore(conn.dialect, channel_alerts, "channel")
            created = (await conn.execute(statement, row)).rowcount > 0
        if created and self.on_alert is not None:
            try:
                await self.on_alert(alert)
            except Exception:  # the alert stands in the store; the mail is a courtesy
                log.exception("channel %s: the alert could not be mailed", channel)
        return created

    async def clear_alert(self, channel: str) -> bool:
        """Close the channel's alert (a delivery went through); True when there was one."""
        async with self.engine.connect() as conn:
            found = (await conn.execute(select(a.channel).where(a.channel == channel))).first()
        if found is None:
            return False
        async with write_transaction(self.engine) as conn:
            await conn.execute(delete(channel_alerts).where(a.channel == channel))
        return True

    async def alerts(self) -> list[Alert]:
        """Every open alert, oldest first."""
        query = select(channel_alerts).order_by(a.raised_at, a.channel)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [Alert(r.channel, r.kind, r.message, r.delivery_id, r.raised_at) for r in rows]


def alert_mail(alert: Alert) -> tuple[str, str]:
    """The admins' email about a new alert: subject and text, Vietnamese then English."""
    subject = f"[Broadcaster] Kênh {alert.channel} đã ngừng / channel {alert.channel} stopped"
    text = (
        f"Kênh {alert.channel} đã ngừng đăng bài từ {alert.raised_at:%Y-%m-%d %H:%M} UTC:\n"
        f"{alert.message}\n\n"
        "Các lần đăng sau sẽ thất bại cho đến khi khắc phục (xem docs/fanpages.md), "
        "rồi thử lại các lần gửi thất bại trên /admin/.\n\n"
        f"Channel {alert.channel} stopped posting at {alert.raised_at:%Y-%m-%d %H:%M} UTC:\n"
        f"{alert.message}\n\n"
        "Later posts fail too until this is fixed (see docs/fanpages.md); then retry the "
        "failed deliveries from the admin pages.\n"
    )
    return subject, text

"""The fan-page tables, on the store's shared metadata (migration 0012 creates them).

`fanpage_posts` keeps, per channel, page and campaign, the post that is on the page now,
so a correction edits it and a withdrawal deletes it instead of posting again.
`channel_alerts` holds one open alert per channel whose last delivery failed for good
(an expired token, a permission taken away), shown in `status` and on the dashboard.
"""

from __future__ import annotations

import enum

from sqlalchemy import CheckConstraint, Column, PrimaryKeyConstraint, String, Table, Text

from broadcaster.store.schema import Id, metadata
from broadcaster.store.types import UTCDateTime


class PostState(enum.StrEnum):
    """Where a post stands: being made (Zalo articles are made in two steps), on the page,
    or taken down (deleted, or edited to a withdrawal notice)."""

    PENDING = "pending"
    LIVE = "live"
    WITHDRAWN = "withdrawn"


def _one_of(column: str, values: type[enum.StrEnum]) -> str:
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


fanpage_posts = Table(
    "fanpage_posts",
    metadata,
    Column("channel", String(100), nullable=False),
    Column("page", String(200), nullable=False),  # the Facebook page id or Zalo OA id
    Column("campaign_id", String(200), nullable=False),
    Column("state", String(16), nullable=False),
    Column("post_id", String(200)),  # None while a Zalo article is still being made
    Column("pending_token", String(500)),  # Zalo: the token `article/verify` takes
    Column("broadcast_id", String(200)),  # Zalo: the broadcast message sent to followers
    Column("delivery_id", Id, nullable=False),  # the delivery that last changed it
    Column("updated_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("channel", "page", "campaign_id"),
    CheckConstraint(_one_of("state", PostState), name="state"),
)

channel_alerts = Table(
    "channel_alerts",
    metadata,
    Column("channel", String(100), primary_key=True),
    Column("kind", String(32), nullable=False),  # token, permission, rejected
    Column("message", Text(), nullable=False),
    Column("delivery_id", Id),
    Column("raised_at", UTCDateTime(), nullable=False),
)

"""Delivery dashboard data: progress per channel, the attempt log, retries, subscriber counts.

Subscriber figures are aggregates only: no address ever reaches the dashboard.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from broadcaster.fanpages.store import FanpageStore
from broadcaster.outbox.history import delivered_per_hour
from broadcaster.outbox.outbox import Outbox
from broadcaster.outbox.tables import DeliveryStatus
from broadcaster.outbox.workers import Workers
from broadcaster.publishing.approval import Approvals
from broadcaster.subscribers.counts import changes_per_hour, confirmed_counts
from broadcaster.web.admin.charts import Buckets, Chart, deliveries_chart, subscribers_chart
from broadcaster.web.admin.localtime import LocalTime

# The four columns staff watch; each delivery status falls in one.
BUCKETS = {
    DeliveryStatus.DELIVERED: "delivered",
    DeliveryStatus.CREATED: "pending",
    DeliveryStatus.SENDING: "pending",
    DeliveryStatus.TEMPORARY_FAILURE: "retrying",
    DeliveryStatus.PERMANENT_FAILURE: "failed",
    DeliveryStatus.TECHNICAL_FAILURE: "failed",
    DeliveryStatus.CANCELLED: "cancelled",
}


async def publication_list(
    approvals: Approvals, outbox: Outbox, limit: int = 50
) -> list[dict[str, Any]]:
    """Newest publications (held ones first) with per-channel progress buckets."""
    items: list[dict[str, Any]] = []
    emergencies = {(e.campaign_id, e.revision) for e in await approvals.reviews.emergencies()}
    publishers = await approvals.audit.publishers()
    for held in await approvals.reviews.held(pending_only=True, limit=limit):
        items.append(
            {
                "id": None,
                "held_id": held.id,
                "campaign": held.campaign_id,
                "revision": held.revision,
                "status": "held",
                "source": "schedule",
                "kind": "publication",
                "schedule": held.schedule_id,
                "created_at": held.created_at.isoformat(),
                "emergency": False,
                "published_by": None,
                "channels": {name: {} for name in held.channels},
            }
        )
    for publication in await outbox.publications(limit):
        channels = await progress(outbox, publication.id)
        items.append(
            {
                "id": publication.id,
                "held_id": None,
                "campaign": publication.campaign_id,
                "revision": publication.revision,
                "status": overall(str(publication.status), channels),
                "source": str(publication.source),
                "kind": str(publication.kind),
                "schedule": publication.schedule_id,
                "created_at": publication.created_at.isoformat(),
                "emergency": (publication.campaign_id, publication.revision) in emergencies,
                "published_by": publishers.get(publication.id, str(publication.source)),
                "channels": channels,
            }
        )
    return items


def overall(status: str, channels: dict[str, dict[str, int]]) -> str:
    """One word for a publication: queuing, sending, retrying, failed or delivered."""
    if status != "enqueued":
        return "queuing"  # its deliveries are still being added to the outbox
    total = {key: sum(c.get(key, 0) for c in channels.values()) for key in BUCKETS.values()}
    if total["pending"]:
        return "sending"
    if total["retrying"]:
        return "retrying"
    if total["failed"]:
        return "failed"
    if total["cancelled"] and not total["delivered"]:
        return "cancelled"
    return "delivered"


async def progress(outbox: Outbox, publication_id: int) -> dict[str, dict[str, int]]:
    """Per channel: delivered, pending, retrying, failed (and cancelled) counts."""
    result: dict[str, dict[str, int]] = {}
    for channel, counts in (await outbox.progress(publication_id)).items():
        buckets = dict.fromkeys(("delivered", "pending", "retrying", "failed"), 0)
        for status, count in counts.items():
            key = BUCKETS[DeliveryStatus(status)]
            buckets[key] = buckets.get(key, 0) + count
        result[channel] = buckets
    return result


async def attempts(outbox: Outbox, publication_id: int, limit: int = 200) -> list[dict[str, Any]]:
    """The newest attempts of a publication's deliveries, with their errors."""
    return [
        {
            "delivery": row.id,
            "channel": row.channel,
            # Subscriber deliveries name a subscriber id, never an address.
            "recipient": row.recipient,
            "status": row.status,
            "attempt": row.attempt,
            "outcome": row.outcome,
            "error": row.error,
            "at": row.started_at.isoformat(),
        }
        for row in await outbox.attempt_log(publication_id, limit)
    ]


async def dead_letters(
    outbox: Outbox, publication_id: int, channels: Collection[str]
) -> list[dict[str, Any]]:
    """A publication's deliveries on `channels` (the webhook ones) that failed for good."""
    return [
        {
            "delivery": row.id,
            "channel": row.channel,
            "recipient": row.recipient,
            "status": row.status,
            "error": row.last_error,
        }
        for row in await outbox.dead_letters(publication_id, channels)
    ]


async def retry_failed(outbox: Outbox, workers: Workers, publication_id: int) -> int:
    """Queue a publication's failed deliveries again (same Message-ID / webhook-id)."""
    retried = await outbox.retry_failed(publication_id)
    workers.wake()
    return retried


async def channel_alerts(engine: AsyncEngine) -> list[dict[str, Any]]:
    """Channels that stopped (an expired fan-page token): which, since when, why."""
    return [
        {
            "channel": alert.channel,
            "kind": alert.kind,
            "message": alert.message,
            "since": alert.raised_at.strftime("%Y-%m-%d %H:%M"),
        }
        for alert in await FanpageStore(engine).alerts()
    ]


async def subscriber_counts(engine: AsyncEngine) -> dict[str, dict[str, int]]:
    """Confirmed subscribers by topic, language and frequency (counts only)."""
    return await confirmed_counts(engine)


async def charts(
    engine: AsyncEngine, clock: LocalTime, span: str, gettext: Callable[[str], str]
) -> list[Chart]:
    """The delivery and subscriber charts over the last 14 days (or 24 hours, `span` hour)."""
    buckets = Buckets.of(span, clock, datetime.now(UTC))
    since = buckets.starts[0]
    delivered = await delivered_per_hour(engine, since)
    changes = await changes_per_hour(engine, since)
    names = (gettext("confirmed"), gettext("unsubscribed"))
    return [
        deliveries_chart(gettext("Deliveries delivered per channel"), delivered, buckets),
        subscribers_chart(gettext("New subscribers and unsubscribes"), changes, buckets, names),
    ]

"""What the `publish` and `status` commands do, apart from parsing arguments."""

from __future__ import annotations

import asyncio
import os
import pwd
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from broadcaster.cli.progress import Meter
from broadcaster.fanpages.store import FanpageStore
from broadcaster.outbox.outbox import Outbox
from broadcaster.outbox.tables import DeliveryStatus, PublicationSource
from broadcaster.outbox.views import OutboxViews
from broadcaster.partners.store import PartnerStore, partner_id_of
from broadcaster.publishing.approval import NotApproved
from broadcaster.publishing.publisher import Published, PublishRefused
from broadcaster.service import Service, open_service
from broadcaster.settings import Settings
from broadcaster.staff.reviews import ReviewStore
from broadcaster.store import create_engine, upgrade_engine
from broadcaster.store.engine import dispose_engine
from broadcaster.text.notice import Correction
from broadcaster.web.admin.dashboard import BUCKETS, overall
from broadcaster.workspace.quarantine import read_record


@dataclass(frozen=True)
class PublishReport:
    campaign: str
    published: Published
    progress: dict[str, dict[str, int]]


# Deliveries in these states are still to be tried by this run.
UNSETTLED = frozenset({str(DeliveryStatus.CREATED), str(DeliveryStatus.SENDING)})


def channel_totals(reports: Sequence[PublishReport]) -> dict[str, dict[str, int]]:
    """Deliveries per channel and status, over every publication of one `publish`."""
    totals: dict[str, Counter[str]] = {}
    for report in reports:
        for channel, counts in report.progress.items():
            totals.setdefault(channel, Counter()).update(counts)
    return {channel: dict(counts) for channel, counts in sorted(totals.items())}


async def _settled(outbox: Outbox, publication_ids: Sequence[int]) -> tuple[int, int]:
    """(settled, total) deliveries of these publications."""
    settled = total = 0
    for publication_id in publication_ids:
        for counts in (await outbox.progress(publication_id)).values():
            for status, count in counts.items():
                total += count
                settled += 0 if str(status) in UNSETTLED else count
    return settled, total


async def _deliver_watched(service: Service, publication_ids: Sequence[int], meter: Meter) -> None:
    """Deliver everything due in this process, the meter following the publications."""
    settled, total = await _settled(service.outbox, publication_ids)
    meter.set_total(total)
    meter.update(settled)
    delivering = asyncio.create_task(service.workers.run_until_idle(f"publish:{os.getpid()}"))
    try:
        while not delivering.done():
            await asyncio.wait([delivering], timeout=0.5)
            settled, total = await _settled(service.outbox, publication_ids)
            meter.update(settled)
    finally:
        if not delivering.done():
            delivering.cancel()
        await asyncio.gather(delivering, return_exceptions=True)
    await delivering  # its error, if any


async def publish_now(
    settings: Settings,
    campaigns: Sequence[str],
    channels: Sequence[str] | None,
    *,
    wait: bool,
    meter: Meter | None = None,
    correction: Correction = Correction.MATERIAL,
) -> list[PublishReport]:
    """Publish each campaign now, through the same path as a schedule firing.

    With `wait`, this process also delivers everything due until the outbox is idle, so
    the website and feeds are up to date when it returns, with or without `serve`;
    `meter` follows the deliveries settled.
    """
    reports: list[PublishReport] = []
    async with open_service(settings, schedule=False, deliver=False) as service:
        names = list(channels) if channels else list(service.channels)
        # Refuse, naming every one, before anything goes out.
        refused = []
        for campaign in campaigns:
            revision = service.workspace.campaigns[campaign].revision
            try:
                await service.approvals.require(service.workspace.approval, campaign, revision)
            except NotApproved as exc:
                refused.append(str(exc))
        if refused:
            raise PublishRefused("\n".join(refused) + "\nnothing was published.")
        results = [
            (
                campaign,
                await service.publisher.publish(
                    campaign,
                    names,
                    source=PublicationSource.CLI,
                    correction=correction,
                    actor=command_line_user(),
                ),
            )
            for campaign in campaigns
        ]
        if wait:
            if meter is None:
                await service.workers.run_until_idle(f"publish:{os.getpid()}")
            else:
                ids = [published.publication_id for _, published in results]
                await _deliver_watched(service, ids, meter)
        for campaign, published in results:
            progress = await service.outbox.progress(published.publication_id)
            reports.append(
                PublishReport(
                    campaign,
                    published,
                    {ch: {str(k): v for k, v in counts.items()} for ch, counts in progress.items()},
                )
            )
    return reports


def command_line_user() -> str:
    """The system account running the command: who published, in the audit log."""
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except (KeyError, OSError):
        return "cli"


async def status_report(settings: Settings, limit: int) -> list[dict[str, Any]]:
    """The newest publications with per-channel delivery counts by status."""
    engine = create_engine(settings.database_url)
    try:
        await upgrade_engine(engine)
        outbox = Outbox(engine)
        reviews = ReviewStore(engine)
        emergencies = await _unreviewed_emergencies(reviews)
        report = await alert_report(FanpageStore(engine)) + quarantine_report(settings)
        partners = PartnerStore(engine, lambda: settings.secret_key)
        for held in await reviews.held(pending_only=True, limit=limit):
            report.append(
                {
                    "id": None,
                    "campaign": held.campaign_id,
                    "revision": held.revision,
                    "source": "schedule",
                    "schedule": held.schedule_id,
                    "fire_time": held.fire_time.isoformat(),
                    "created_at": held.created_at.isoformat(),
                    "status": "held",
                    "emergency": False,
                    "channels": {},
                    "dead_letters": [],
                }
            )
        for publication in await outbox.publications(limit):
            progress = await outbox.progress(publication.id)
            failed = await dead_letters(outbox, partners, publication.id)
            report.append(
                {
                    "id": publication.id,
                    "campaign": publication.campaign_id,
                    "revision": publication.revision,
                    "source": str(publication.source),
                    "kind": str(publication.kind),
                    "schedule": publication.schedule_id,
                    "fire_time": publication.fire_time.isoformat()
                    if publication.fire_time
                    else None,
                    "created_at": publication.created_at.isoformat(),
                    "status": _state(str(publication.status), progress),
                    "emergency": (publication.campaign_id, publication.revision) in emergencies,
                    "channels": {
                        ch: {str(k): v for k, v in counts.items()}
                        for ch, counts in progress.items()
                    },
                    "dead_letters": failed,
                }
            )
        return report
    finally:
        await dispose_engine(engine)


async def alert_report(fanpages: FanpageStore) -> list[dict[str, Any]]:
    """Channels that stopped (an expired fan-page token), as entries of the status report:
    `status` "alert", with the channel, the kind of failure and what to do."""
    return [
        {
            "id": None,
            "campaign": "",
            "revision": "",
            "source": "channel",
            "schedule": None,
            "fire_time": None,
            "created_at": alert.raised_at.isoformat(),
            "status": "alert",
            "emergency": False,
            "channels": {},
            "dead_letters": [],
            "channel": alert.channel,
            "kind": alert.kind,
            "error": alert.message,
            "delivery": alert.delivery_id,
        }
        for alert in await fanpages.alerts()
    ]


async def _unreviewed_emergencies(reviews: ReviewStore) -> set[tuple[str, str]]:
    """(campaign, revision) of emergency publishes no other approver reviewed afterwards."""
    return {
        (e.campaign_id, e.revision)
        for e in await reviews.emergencies(1000)
        if await reviews.reviewer_of(e) is None
    }


def _state(status: str, progress: Mapping[str, Mapping[DeliveryStatus, int]]) -> str:
    """queuing, sending, retrying, failed or delivered: the outbox's "enqueued" only says
    every delivery was added, not that they went out."""
    buckets: dict[str, dict[str, int]] = {}
    for channel, counts in progress.items():
        for delivery_status, n in counts.items():
            key = BUCKETS[DeliveryStatus(delivery_status)]
            buckets.setdefault(channel, {})[key] = buckets.get(channel, {}).get(key, 0) + n
    return overall(status, buckets)


def quarantine_report(settings: Settings) -> list[dict[str, Any]]:
    """The campaigns `serve` last recorded as quarantined (var/quarantine.json), as entries
    of the status report: `status` "quarantined", the revision kept in use (None: left out)."""
    record = read_record(settings.root) or {}
    entries = []
    for held in record.get("campaigns", []):
        entries.append(
            {
                "id": None,
                "campaign": held["campaign"],
                "revision": held["kept_revision"],
                "source": "serve",
                "schedule": None,
                "fire_time": None,
                "created_at": record.get("at"),
                "status": "quarantined",
                "emergency": False,
                "channels": {},
                "dead_letters": [],
                "problems": held["problems"],
            }
        )
    return entries


async def dead_letters(
    outbox: OutboxViews, partners: PartnerStore, publication_id: int, limit: int = 20
) -> list[dict[str, Any]]:
    """Deliveries of a publication that failed for good (gave up, rejected, or our fault)."""
    rows = await outbox.dead_letters(publication_id, limit=limit)
    names = await partners.by_ids(
        i for i in (partner_id_of(row.recipient) for row in rows) if i is not None
    )
    failed = []
    for row in rows:
        partner = names.get(partner_id_of(row.recipient) or 0)
        failed.append(
            {
                "id": row.id,
                "channel": row.channel,
                "recipient": row.recipient,
                "partner": partner.name if partner else None,
                "status": row.status,
                "attempts": row.attempts,
                "error": row.last_error,
            }
        )
    return failed

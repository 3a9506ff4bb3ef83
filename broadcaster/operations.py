"""What the `publish`, `status` and `db upgrade` commands do, apart from parsing arguments."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .outbox import Outbox
from .publisher import Published
from .service import open_service
from .settings import Settings
from .store import create_engine, upgrade, upgrade_engine
from .store.engine import dispose_engine
from .store.tables import PublicationSource


@dataclass(frozen=True)
class PublishReport:
    campaign: str
    published: Published
    progress: dict[str, dict[str, int]]


async def publish_now(
    settings: Settings, campaigns: Sequence[str], channels: Sequence[str] | None, *, wait: bool
) -> list[PublishReport]:
    """Publish each campaign now, through the same path as a schedule firing.

    With `wait`, this process also delivers everything due until the outbox is idle, so
    the website and feeds are up to date when it returns, with or without `serve`.
    """
    reports: list[PublishReport] = []
    async with open_service(settings, schedule=False, deliver=False) as service:
        names = list(channels) if channels else list(service.channels)
        results = [
            (
                campaign,
                await service.publisher.publish(campaign, names, source=PublicationSource.CLI),
            )
            for campaign in campaigns
        ]
        if wait:
            await service.workers.run_until_idle(f"publish:{os.getpid()}")
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


async def status_report(settings: Settings, limit: int) -> list[dict[str, Any]]:
    """The newest publications with per-channel delivery counts by status."""
    engine = create_engine(settings.database_url)
    try:
        await upgrade_engine(engine)
        outbox = Outbox(engine)
        report: list[dict[str, Any]] = []
        for publication in await outbox.publications(limit):
            progress = await outbox.progress(publication.id)
            report.append(
                {
                    "id": publication.id,
                    "campaign": publication.campaign_id,
                    "revision": publication.revision,
                    "source": str(publication.source),
                    "schedule": publication.schedule_id,
                    "fire_time": publication.fire_time.isoformat()
                    if publication.fire_time
                    else None,
                    "created_at": publication.created_at.isoformat(),
                    "status": str(publication.status),
                    "channels": {
                        ch: {str(k): v for k, v in counts.items()}
                        for ch, counts in progress.items()
                    },
                }
            )
        return report
    finally:
        await dispose_engine(engine)


async def upgrade_database(settings: Settings) -> None:
    """Apply the store's migrations (also done by `serve` and `publish`)."""
    await upgrade(settings.database_url)

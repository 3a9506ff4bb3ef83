"""Withdrawing a campaign: one withdrawal publication, told through the same outbox as a
first publication to everyone a channel sent the campaign (partners get
`publication.withdrawn`, readers and newsrooms that were emailed one short notice with the
reason), then whatever of it is still queued is cancelled. The withdrawal is recorded even
when nobody is to be told by message: it is a public alert's CAP Cancel, and digests list it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from broadcaster.channels.base import Channel, WithdrawingChannel
from broadcaster.outbox.content import ContentStore
from broadcaster.outbox.jobs import batched
from broadcaster.outbox.outbox import Outbox
from broadcaster.outbox.snapshot import from_snapshot, with_notice
from broadcaster.outbox.tables import PublicationKind, PublicationSource
from broadcaster.text.notice import Notice, NoticeKind
from broadcaster.text.render import Publication
from broadcaster.workspace.models import Workspace

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WithdrawalReceipt:
    """What withdrawing a campaign queued and stopped."""

    publication_id: int | None  # the withdrawal publication; None: it was never published
    deliveries: int  # withdrawal events and notices queued
    cancelled: int  # deliveries of the campaign still queued, now never sent


@dataclass(frozen=True)
class Withdrawals:
    """The publisher's parts a withdrawal uses."""

    outbox: Outbox
    content: ContentStore
    channels: Mapping[str, Channel]
    workspace: Workspace
    base_url: str
    clock: Callable[[], datetime]
    on_enqueued: Callable[[Sequence[str] | None], None]

    async def withdraw(
        self, campaign_id: str, *, source: PublicationSource, reason: str = ""
    ) -> WithdrawalReceipt:
        """Tell every partner that was sent, tried or still has queued an event of the
        campaign `publication.withdrawn` (after those earlier events), and every reader and
        newsroom emailed it one notice with `reason`; then cancel what is still queued."""
        channels = [c for c in self.channels.values() if isinstance(c, WithdrawingChannel)]
        names = [c.name for c in channels if await c.withdrawal_recipients(campaign_id)]
        snapshot = await self.content.last_snapshot(campaign_id, names) if names else None
        if snapshot is None:
            snapshot = await self.content.last_snapshot(campaign_id, None)
        publication_id, count = None, 0
        if snapshot is not None:
            earlier = from_snapshot(snapshot, self.workspace, self.base_url)
            notice = Notice(NoticeKind.WITHDRAWAL, reason=reason, earlier_at=earlier.published_at)
            snapshot = with_notice(snapshot, notice)
            publication = from_snapshot(snapshot, self.workspace, self.base_url)
            publication_id, _ = await self.outbox.create_publication(
                campaign_id,
                publication.campaign.revision,
                names,
                source=source,
                snapshot=snapshot,
                kind=PublicationKind.WITHDRAWAL,
            )
            at = self.clock().replace(microsecond=0)
            count = await self.fill(publication_id, publication, names, at)
            log.info(
                "publication %s: withdrawal of %s on %s (%s deliveries)",
                publication_id,
                campaign_id,
                ", ".join(names) or "no channel (nobody to tell by message)",
                count,
            )
        # Only once the withdrawal is queued: a crash before this point leaves nothing
        # cancelled, so `resume` finds the same recipients to tell.
        cancelled = await self.outbox.cancel(campaign_id=campaign_id, reason="campaign withdrawn")
        return WithdrawalReceipt(publication_id, count, cancelled)

    async def fill(
        self, publication_id: int, publication: Publication, names: Sequence[str], at: datetime
    ) -> int:
        """Render the withdrawal on each of `names` and queue one delivery per recipient."""
        channels: list[WithdrawingChannel] = []
        for name in names:
            if isinstance(channel := self.channels.get(name), WithdrawingChannel):
                channels.append(channel)
        locales = publication.workspace.locales
        await self.content.save_renditions(
            publication_id,
            [c.render_withdrawal(publication, locale, at) for c in channels for locale in locales],
        )
        campaign_id = publication.campaign.id

        async def batches() -> AsyncIterator[list[tuple[str, str, str]]]:
            for channel in channels:
                told = await channel.withdrawal_recipients(campaign_id, before=publication_id)
                yield [(channel.name, recipient, locale) for recipient, locale in told]

        count = await self.outbox.enqueue_stream(publication_id, batches(), batched(channels))
        self.on_enqueued([channel.name for channel in channels])
        return count

"""A digest schedule firing: one publication, rendered per variant, one delivery per reader.

The same one-way path as a campaign: the firing creates a publication (unique per
(schedule, fire time), so of several processes firing, one wins) whose snapshot lists the
publications it may include; renditions are stored per variant; one delivery per digest
subscriber with something new goes into the outbox on the digest's email channel. A
firing with nothing new for anyone creates no publication: it is recorded as a firing
without one (as a schedule whose campaign is not current is), so `status` does not fill
with empty digests.

`last_digest_at` moves to the fire time as each batch of deliveries is committed to the
outbox, not when the mail is delivered: from there the outbox delivers at least once
(leases, retries), so the digest cannot be lost, and a second firing, even while the
first digest is still queued, cannot list the same publications again. A delivery that
finally fails is a bounce, and the bounce handling decides about that address.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from broadcaster.channels.base import Rendition
from broadcaster.channels.email_subscribers import SubscriberEmailChannel
from broadcaster.outbox.content import ContentStore
from broadcaster.outbox.jobs import batched
from broadcaster.outbox.outbox import Outbox
from broadcaster.outbox.tables import PublicationSource
from broadcaster.publishing.digests.compose import (
    DigestReader,
    DigestRenderer,
    Section,
    sections_for,
    variant_key,
)
from broadcaster.publishing.digests.snapshot import DigestSnapshot, entries_from
from broadcaster.publishing.digests.store import (
    DigestAudience,
    Member,
    previous_digest,
    published_between,
)
from broadcaster.settings import Settings
from broadcaster.workspace.models import Frequency, Schedule, Workspace

log = logging.getLogger(__name__)

# Publications older than this are never listed, however long ago someone's last digest
# was: it bounds the query, and only a digest schedule stopped this long can miss any.
LOOKBACK = timedelta(days=40)
PERIOD = {Frequency.DAILY: timedelta(days=1), Frequency.WEEKLY: timedelta(days=7)}


class DigestError(Exception):
    """A digest schedule that cannot fire (its channel is missing or not list mail)."""


@dataclass(frozen=True)
class DigestFired:
    publication_id: int
    created: bool
    deliveries: int


class Digests:
    """Fires digest schedules into the outbox."""

    def __init__(
        self,
        outbox: Outbox,
        content: ContentStore,
        audience: DigestAudience,
        settings: Settings,
        *,
        batch: int = 5000,
        on_enqueued: Callable[[Sequence[str] | None], None] = lambda channels: None,
    ) -> None:
        self.outbox = outbox
        self.content = content
        self.audience = audience
        self.settings = settings
        self.batch = batch
        self.on_enqueued = on_enqueued

    async def fire(
        self, schedule: Schedule, fire_time: datetime, channel: object, workspace: Workspace
    ) -> DigestFired | None:
        """Create the digest publication for this firing (once) and queue its deliveries;
        None, and no publication, when nobody has anything new."""
        email = _digest_channel(schedule.digest, channel)
        window_start = fire_time - LOOKBACK
        rows = await published_between(self.outbox, window_start, fire_time)
        snapshot = DigestSnapshot(
            schedule_id=schedule.id,
            channel=email.name,
            frequency=schedule.frequency or Frequency.DAILY,
            fire_time=fire_time,
            window_start=window_start,
            entries=entries_from(rows, email.name, fire_time, self.settings.base_url),
        )
        if not await self._anyone_has_news(snapshot, workspace):
            # Or another node fired it a moment ago and its readers have had their news.
            created = await self.outbox.fired_publication(schedule.id, fire_time)
            if created is not None:
                return DigestFired(created, False, 0)
            log.info("digest %s at %s: nothing new for anyone; no digest", schedule.id, fire_time)
            await self.outbox.record_missed(schedule.id, fire_time)
            return None
        publication_id, created = await self.outbox.create_publication(
            snapshot.campaign_id,
            snapshot.revision(),
            [email.name],
            source=PublicationSource.SCHEDULE,
            schedule_id=schedule.id,
            fire_time=fire_time,
            snapshot=snapshot.to_json(),
        )
        if not created:
            return DigestFired(publication_id, False, 0)
        count = await self._fill(publication_id, snapshot, email, workspace)
        log.info(
            "digest %s at %s: publication %s lists %s publication(s), %s deliveries",
            schedule.id,
            fire_time.isoformat(),
            publication_id,
            len(snapshot.entries),
            count,
        )
        return DigestFired(publication_id, True, count)

    async def resume(
        self, publication_id: int, snapshot_text: str, channel: object, workspace: Workspace
    ) -> int:
        """Finish a digest publication a crash left half-queued (idempotent)."""
        snapshot = DigestSnapshot.from_json(snapshot_text)
        email = _digest_channel(snapshot.channel, channel)
        return await self._fill(publication_id, snapshot, email, workspace)

    async def _anyone_has_news(self, snapshot: DigestSnapshot, workspace: Workspace) -> bool:
        """Whether at least one reader's digest would list something (stops at the first)."""
        async for _ in self._readers(snapshot, workspace, batch=min(self.batch, 500)):
            return True
        return False

    async def _readers(
        self, snapshot: DigestSnapshot, workspace: Workspace, batch: int | None = None
    ) -> AsyncIterator[list[tuple[DigestReader, tuple[Section, ...]]]]:
        """Batches of the readers with something new, and what their digest lists."""
        floor = await previous_digest(self.outbox, snapshot.schedule_id, snapshot.fire_time)
        if floor is None:
            floor = snapshot.fire_time - PERIOD.get(snapshot.frequency, PERIOD[Frequency.DAILY])
        topic_order = list(workspace.topics)
        topics = sorted({topic for entry in snapshot.entries for topic in entry.topics})
        if not topics:
            return
        async for members in self.audience.members(topics, snapshot.frequency, batch or self.batch):
            found = []
            for member in members:
                reader = DigestReader(
                    member.id, member.locale, member.topics, _since(member, snapshot, floor)
                )
                sections = sections_for(reader, snapshot.entries, topic_order)
                if sections:  # nothing new for them: no digest, and nothing to record
                    found.append((reader, sections))
            if found:
                yield found

    async def _fill(
        self,
        publication_id: int,
        snapshot: DigestSnapshot,
        channel: SubscriberEmailChannel,
        workspace: Workspace,
    ) -> int:
        renderer = DigestRenderer(
            channel.name,
            channel.options,
            channel.templates,
            self.settings.base_url,
            workspace.topics,
            workspace.timezone,
        )
        saved: set[str] = set()

        async def batches() -> AsyncIterator[list[tuple[str, str, str]]]:
            async for readers in self._readers(snapshot, workspace):
                items: list[tuple[str, str, str]] = []
                renditions: list[Rendition] = []
                for reader, sections in readers:
                    key = variant_key(reader.locale, sections)
                    if key not in saved:
                        saved.add(key)
                        renditions.append(
                            renderer.render(snapshot, publication_id, reader.locale, sections)
                        )
                    items.append((channel.name, str(reader.id), key))
                if renditions:
                    await self.content.save_renditions(publication_id, renditions)
                yield items
                # Resumed only after the outbox committed the batch.
                await self.audience.advance([int(i[1]) for i in items], snapshot.fire_time)
                self.on_enqueued([channel.name])

        count = await self.outbox.enqueue_stream(publication_id, batches(), batched([channel]))
        self.on_enqueued([channel.name])
        return count


def _since(member: Member, snapshot: DigestSnapshot, floor: datetime) -> datetime:
    """List what was created after this for `member`.

    Their last digest; for a first digest their confirmation, but never before the
    schedule's previous digest: someone who switched from immediate mail had those.
    """
    if member.last_digest_at is not None:
        since = member.last_digest_at
    else:
        since = max(member.confirmed_at or floor, floor)
    return max(since, snapshot.window_start)


def _digest_channel(name: str | None, channel: object) -> SubscriberEmailChannel:
    if not isinstance(channel, SubscriberEmailChannel):
        raise DigestError(f"digest channel '{name}' is not an email channel to subscribers")
    return channel

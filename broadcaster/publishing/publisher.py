"""The one way out: a campaign revision becomes a publication, renditions and deliveries."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from broadcaster.channels.base import Channel, Rendition
from broadcaster.outbox.content import ContentStore
from broadcaster.outbox.jobs import batched
from broadcaster.outbox.outbox import Outbox
from broadcaster.outbox.snapshot import from_snapshot
from broadcaster.outbox.tables import PublicationKind, PublicationSource
from broadcaster.publishing.approval import Approvals, NotApproved
from broadcaster.publishing.digests import DigestError, DigestFired, Digests, is_digest
from broadcaster.publishing.prepared import Prepared, PreparedFirings, nothing_to_do, renditions
from broadcaster.publishing.withdrawals import WithdrawalReceipt, Withdrawals
from broadcaster.settings import Settings
from broadcaster.text.notice import Correction, Notice, NoticeKind
from broadcaster.text.render import Publication
from broadcaster.workspace.models import ApprovalPolicy, Campaign, Schedule, Workspace

log = logging.getLogger(__name__)
_UNLOADED = "never loaded (quarantined: its files have errors)"

# Recipients are queued in batches of at least this many, or all at once when fewer.
SMALL_BATCH = 100


class PublishError(Exception):
    """A publish request that cannot be carried out (unknown campaign or channel)."""


class PublishRefused(PublishError):
    """A publish of a revision the approval policy does not allow (yet)."""


@dataclass(frozen=True)
class Published:
    publication_id: int
    created: bool
    deliveries: int


class Publisher:
    """Creates publications (from schedules, the CLI or the admin UI) and fills the outbox."""

    def __init__(
        self,
        outbox: Outbox,
        content: ContentStore,
        settings: Settings,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_enqueued: Callable[[Sequence[str] | None], None] = lambda channels: None,
        digests: Digests | None = None,
        on_published: Callable[[str], None] = lambda source: None,
        on_created: Callable[[int, str], None] = lambda publication_id, snapshot: None,
    ) -> None:
        self.outbox = outbox
        self.content = content
        self.settings = settings
        self.clock = clock
        self.on_enqueued = on_enqueued
        self.on_published = on_published
        # A publication was stored: (its id, its snapshot), for the site in this process.
        self.on_created = on_created
        # What `digest:` schedules fire into; None where there is no subscriber store.
        self.digests = digests
        # The two-person rule (publishing/approval.py); None: no staff store, nothing enforced.
        self.approvals: Approvals | None = None
        self.workspace: Workspace | None = None
        self.channels: Mapping[str, Channel] = {}
        # Firings rendered ahead of time (see `prepare`), by (schedule id, fire time).
        self._prepared = PreparedFirings()
        # Deliveries on these channels were just queued; the workers are woken after it.
        self.on_queued: Callable[[Sequence[str]], Awaitable[None]] = nothing_to_do

    def use(self, workspace: Workspace, channels: Mapping[str, Channel]) -> None:
        """Publish from this workspace from now on (start and reload)."""
        self.workspace = workspace
        self.channels = channels

    async def publish(
        self,
        campaign_id: str,
        channel_names: Sequence[str],
        *,
        source: PublicationSource,
        schedule_id: str | None = None,
        fire_time: datetime | None = None,
        actor: str | None = None,
        revision: str | None = None,
        correction: Correction = Correction.MATERIAL,
    ) -> Published:
        """Create the publication (once per firing) and queue one delivery per recipient.

        A new revision of a campaign already out is a correction: `correction` says whether
        readers who were emailed get it (material) or not (minor).

        Refused (PublishRefused) when the approval policy does not allow the campaign's
        current revision, or when `revision` is given and the files have changed since.
        """
        workspace = self._workspace()
        campaign = workspace.campaigns.get(campaign_id)
        if campaign is None:
            raise PublishError(f"no campaign '{campaign_id}' in the workspace")
        self._check_channels(channel_names)
        if revision is not None and revision != campaign.revision:
            raise PublishRefused(
                f"campaign '{campaign_id}' changed since revision {revision[:12]} "
                f"(now {campaign.revision[:12]}); review the new revision first"
            )
        if self.approvals is not None and workspace.approval != ApprovalPolicy.NONE:
            try:
                await self.approvals.require(workspace.approval, campaign_id, campaign.revision)
            except NotApproved as exc:
                raise PublishRefused(str(exc)) from None
        return await self._publish(
            campaign,
            channel_names,
            source=source,
            schedule_id=schedule_id,
            fire_time=fire_time,
            actor=actor,
            correction=correction,
        )

    async def _correction(self, campaign: Campaign, choice: Correction) -> Notice | None:
        """A correction notice when an earlier revision of the campaign is out (published
        and not withdrawn since); None for a first publication or the same revision again."""
        newest = await self.outbox.newest_publication(campaign.id)
        if (
            newest is None
            or newest.kind != PublicationKind.PUBLICATION
            or newest.revision == campaign.revision
        ):
            return None
        return Notice(
            NoticeKind.CORRECTION,
            material=choice == Correction.MATERIAL,
            earlier_at=newest.created_at,
        )

    async def _publish(
        self,
        campaign: Campaign,
        channel_names: Sequence[str],
        *,
        source: PublicationSource,
        schedule_id: str | None = None,
        fire_time: datetime | None = None,
        actor: str | None = None,
        prepared: Prepared | None = None,
        correction: Correction = Correction.MATERIAL,
    ) -> Published:
        """`publish` once the campaign may go out: from `prepared` when it still fits."""
        self._check_channels(channel_names)
        workspace, base_url = self._workspace(), self.settings.base_url
        published_at = fire_time or self.clock().replace(microsecond=0)
        notice = await self._correction(campaign, correction)
        made = (workspace, self.channels, channel_names, campaign, base_url, published_at)
        if prepared is None or not prepared.fits(*made, notice=notice):
            prepared = Prepared.make(*made, notice=notice)
        publication_id, created = await self.outbox.create_publication(
            campaign.id,
            campaign.revision,
            list(channel_names),
            source=source,
            schedule_id=schedule_id,
            fire_time=fire_time,
            snapshot=prepared.snapshot,
        )
        if not created:
            return Published(publication_id, False, 0)
        self.on_created(publication_id, prepared.snapshot)
        count = await self._fill(
            publication_id, prepared.publication, channel_names, prepared.renditions
        )
        log.info(
            "publication %s: %s revision %s on %s (%s deliveries)",
            publication_id,
            campaign.id,
            campaign.revision[:12],
            ", ".join(channel_names),
            count,
        )
        self.on_published(str(source))
        if self.approvals is not None:
            await self.approvals.audit.record(
                actor or str(source),
                "publication.created",
                campaign_id=campaign.id,
                revision=campaign.revision,
                detail={
                    "publication": publication_id,
                    "source": str(source),
                    "channels": list(channel_names),
                    **({"correction": str(correction)} if notice is not None else {}),
                },
            )
        return Published(publication_id, True, count)

    async def _fill(
        self,
        publication_id: int,
        publication: Publication,
        channel_names: Sequence[str],
        rendered: Sequence[Rendition] | None = None,
    ) -> int:
        if rendered is None:
            rendered = renditions(publication, self.channels, channel_names)
        await self.content.save_renditions(publication_id, rendered)

        async def batches() -> AsyncIterator[list[tuple[str, str, str]]]:
            # Channels with a recipient or two (website, feeds, a press desk) are queued
            # together, in one write; batches of subscribers go as they come.
            pending: list[tuple[str, str, str]] = []
            for name in channel_names:
                async for batch in self.channels[name].recipients(publication):
                    pending += [(name, recipient, locale) for recipient, locale in batch]
                    if len(pending) >= SMALL_BATCH:
                        yield pending
                        await self._queued(pending)
                        pending = []
            if pending:
                yield pending
                await self._queued(pending)

        # Each batch woke the workers once it was queued.
        named = [self.channels[name] for name in channel_names]
        return await self.outbox.enqueue_stream(publication_id, batches(), batched(named))

    async def withdraw(
        self, campaign_id: str, *, source: PublicationSource, reason: str = ""
    ) -> WithdrawalReceipt:
        """Take a campaign back from the channels that tell their recipients (webhooks,
        email): see `publishing/withdrawals.py`."""
        return await self._withdrawals().withdraw(campaign_id, source=source, reason=reason)

    def _withdrawals(self) -> Withdrawals:
        return Withdrawals(
            self.outbox,
            self.content,
            self.channels,
            self._workspace(),
            self.settings.base_url,
            self.clock,
            self.on_enqueued,
        )

    async def resume(self) -> int:
        """Finish publications a crash left half-queued (enqueueing is idempotent)."""
        workspace = self._workspace()
        resumed = 0
        for pending in await self.outbox.unfinished_publications():
            snapshot = await self.content.snapshot(pending.id)
            if snapshot is None:
                continue
            if is_digest(pending.campaign_id):
                if self.digests is not None and pending.channels:
                    channel = self.channels.get(pending.channels[0])
                    await self.digests.resume(pending.id, snapshot, channel, workspace)
                    resumed += 1
                continue
            publication = from_snapshot(snapshot, workspace, self.settings.base_url)
            names = [name for name in pending.channels if name in self.channels]
            if pending.kind == PublicationKind.WITHDRAWAL:
                at = pending.created_at.replace(microsecond=0)
                await self._withdrawals().fill(pending.id, publication, names, at)
            else:
                await self._fill(pending.id, publication, names)
            resumed += 1
        return resumed

    # The scheduler's FiringTarget:

    def prepare(self, schedule: Schedule, fire_time: datetime) -> None:
        """Render ahead of `fire_time` what a firing of `schedule` then would publish, so
        the firing only checks the approval and stores it (a reload in between, or any
        other change to what it was made from, and the firing renders anew)."""
        workspace = self._workspace()
        campaign = workspace.campaigns.get(schedule.campaign or "")
        if (
            campaign is None
            or not campaign.is_current(fire_time)
            or any(name not in self.channels for name in schedule.channels)
        ):
            return
        made = Prepared.make(
            workspace, self.channels, schedule.channels, campaign, self.settings.base_url, fire_time
        )
        self._prepared.keep(schedule.id, made, now=self.clock())

    async def fire(self, schedule: Schedule, fire_time: datetime) -> None:
        """A schedule fired: publish its campaign if it is current at `fire_time`.

        A `digest:` schedule sends its digest instead (`fire_digest`).
        """
        if schedule.digest is not None:
            await self.fire_digest(schedule, fire_time)
            return
        assert schedule.campaign is not None
        prepared = self._prepared.take(schedule.id, fire_time)
        workspace = self._workspace()
        campaign = workspace.campaigns.get(schedule.campaign)
        if campaign is None or not campaign.is_current(fire_time):
            level, why = (logging.INFO, "not current") if campaign else (logging.ERROR, _UNLOADED)
            log.log(level, "schedule %s: campaign %s at %s; skipped", schedule.id, why, fire_time)
            await self.outbox.record_missed(schedule.id, fire_time)
            return
        if self.approvals is not None and workspace.approval != ApprovalPolicy.NONE:
            verdict = await self.approvals.verdict(
                workspace.approval, campaign.id, campaign.revision
            )
            if not verdict.publishable:
                await self.approvals.hold(
                    campaign.id,
                    campaign.revision,
                    schedule.id,
                    fire_time,
                    schedule.channels,
                    verdict,
                )
                return
        await self._publish(
            campaign,
            schedule.channels,
            source=PublicationSource.SCHEDULE,
            schedule_id=schedule.id,
            fire_time=fire_time,
            prepared=prepared,
        )

    async def fire_digest(self, schedule: Schedule, fire_time: datetime) -> DigestFired | None:
        """A digest schedule fired: one digest per daily/weekly subscriber with news."""
        assert schedule.digest is not None
        if self.digests is None:
            log.warning("schedule %s: no subscriber store for digests; not fired", schedule.id)
            return None
        channel = self.channels.get(schedule.digest)
        try:
            return await self.digests.fire(schedule, fire_time, channel, self._workspace())
        except DigestError as exc:
            log.error("schedule %s: %s; recorded as missed", schedule.id, exc)
            await self.outbox.record_missed(schedule.id, fire_time)
            return None

    async def record_missed(self, schedule: Schedule, fire_time: datetime) -> None:
        """Note a firing too old to send."""
        await self.outbox.record_missed(schedule.id, fire_time)

    async def last_fire_time(self, schedule_id: str) -> datetime | None:
        """The latest recorded firing of `schedule_id` (published, missed or held)."""
        latest = await self.outbox.last_fire_time(schedule_id)
        if self.approvals is not None:
            held = await self.approvals.reviews.last_held(schedule_id)
            if held is not None and (latest is None or held > latest):
                return held
        return latest

    async def _queued(self, batch: Sequence[tuple[str, str, str]]) -> None:
        channels = sorted({channel for channel, _, _ in batch})
        await self.on_queued(channels)
        self.on_enqueued(channels)

    def _check_channels(self, channel_names: Sequence[str]) -> None:
        unknown = [name for name in channel_names if name not in self.channels]
        if unknown:
            raise PublishError(f"no channel {', '.join(unknown)} in channels/")

    def _workspace(self) -> Workspace:
        if self.workspace is None:
            raise RuntimeError("Publisher.use(workspace, channels) was not called")
        return self.workspace

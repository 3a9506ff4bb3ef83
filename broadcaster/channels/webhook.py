"""The webhook channel: signed JSON events (Standard Webhooks) to registered media partners.

Partners live in the store (`broadcaster partners ...`); this file's options are the
defaults for all of them: timeout, retry schedule, connections, and `allow_networks:`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from broadcaster.channels.base import (
    ChannelOptions,
    Deferred,
    DeliveryJob,
    Progress,
    Rendition,
    Resources,
    RetryLater,
    Withdrawn,
    deliver_one,
    masked,
)
from broadcaster.outbox.retry import RetryPolicy
from broadcaster.partners.events import Waiting
from broadcaster.partners.guard import AllowNetworks
from broadcaster.partners.payload import encode, event, event_data, with_type, withdrawal
from broadcaster.partners.sender import Gone, WebhookSender
from broadcaster.partners.store import PartnerStore, partner_id_of, recipient
from broadcaster.partners.tables import EventType
from broadcaster.settings import Settings
from broadcaster.text.radio_script import read_aloud
from broadcaster.text.render import Publication, Templates
from broadcaster.workspace.models import DEFAULT_LOCALE

log = logging.getLogger(__name__)

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


def _seconds(value: object) -> float:
    """`5s`, `5m`, `2h`, `1d` or a number of seconds, as seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    match = _DURATION.fullmatch(str(value))
    if match is None:
        raise ValueError(f"{value!r} is not a duration like 30s, 5m, 2h or 1d")
    return float(match.group(1)) * _UNITS[match.group(2)]


MAX_BATCH = 1000
# Time kept between the last request's timeout and the end of the batch's lease.
LEASE_MARGIN = timedelta(seconds=5)

Duration = Annotated[float, BeforeValidator(_seconds), Field(ge=0)]
# Standard Webhooks' suggested schedule: after the first attempt, wait these in turn.
DEFAULT_SCHEDULE: list[float] = [5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400]


@dataclass(frozen=True)
class _Send:
    """One post to make: the job at `index`, to `partner`'s endpoint, as `event_type`."""

    index: int
    url: str
    partner: str
    event_type: EventType
    secrets: Sequence[str]


class RetryOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    schedule: list[Duration] = Field(default_factory=lambda: list(DEFAULT_SCHEDULE), max_length=50)
    jitter: float = Field(default=0.1, ge=0, le=0.5)


class WebhookOptions(ChannelOptions):
    type: Literal["webhook"]
    timeout: float = Field(default=15, gt=0, le=120)
    retry: RetryOptions = Field(default_factory=RetryOptions)
    connections: int = Field(default=100, ge=1, le=1000)
    allow_networks: AllowNetworks = Field(default_factory=list)


class WebhookChannel:
    """Renders the event once per locale; signs and posts it to each matching partner."""

    Options: ClassVar[type[ChannelOptions]] = WebhookOptions
    type: ClassVar[str] = "webhook"

    def __init__(
        self,
        name: str,
        options: WebhookOptions,
        templates: Templates,
        settings: Settings,
        partners: PartnerStore | None = None,
    ):
        self.name = name
        self.options = options
        self.templates = templates
        self.settings = settings
        self.partners = partners
        self.sender = WebhookSender(options.timeout, options.allow_networks, options.connections)

    @classmethod
    def from_config(cls, name: str, options: Any, resources: Resources) -> Self:
        return cls(name, options, resources.templates, resources.settings, resources.partners)

    def retry_policy(self) -> RetryPolicy:
        """Immediately, then the schedule's waits (with jitter); Retry-After is a floor."""
        waits = [timedelta(seconds=s) for s in self.options.retry.schedule]
        return RetryPolicy.from_schedule(waits, self.options.retry.jitter)

    async def recipients(self, publication: Publication) -> AsyncIterator[list[tuple[str, str]]]:
        """Enabled partners that take one of the campaign's topics, once per locale."""
        if self.partners is None:
            log.warning("channel %s: no partner registry; nobody to send to", self.name)
            return
        campaign = publication.campaign
        batch = [
            (recipient(partner.id, locale), locale)
            for partner in await self.partners.enabled()
            if partner.wants(campaign.topics)
            for locale in partner.locales_for(campaign.locales, DEFAULT_LOCALE)
        ]
        if batch:
            yield batch

    def render(self, publication: Publication, locale: str) -> Rendition:
        """The event body (compact JSON, UTF-8) plus the radio script on its own."""
        script = read_aloud(publication, locale, self.templates)
        data = event_data(publication, locale, script)
        document = event(EventType.CREATED, publication.published_at.isoformat(), data)
        body = encode(document)
        pretty = json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
        return Rendition(
            channel=self.name,
            locale=locale,
            media_type="application/json",
            body=body,
            summary=f"signed event {data['id']} for each partner ({len(body)} bytes)",
            files={"webhook.json": pretty.encode(), "radio.txt": script.text.encode()},
        )

    async def withdrawal_recipients(
        self, campaign_id: str, before: int | None = None
    ) -> list[tuple[str, str]]:
        """(recipient, locale) of every partner that had, or has queued, the campaign (in
        publications older than `before`, when given)."""
        if self.partners is None:
            return []
        return await self.partners.told_about(self.name, campaign_id, before)

    def render_withdrawal(self, publication: Publication, locale: str, at: datetime) -> Rendition:
        """`publication.withdrawn` at `at`, carrying the last revision partners were sent."""
        rendition = self.render(publication, locale)
        when = at.astimezone(publication.published_at.tzinfo).isoformat()
        body = withdrawal(rendition.body, when)
        pretty = json.dumps(json.loads(body), ensure_ascii=False, indent=2, sort_keys=True)
        return replace(
            rendition,
            body=body,
            summary=f"withdrawal of {publication.campaign.id} for each partner that had it",
            files={"webhook.json": (pretty + "\n").encode()},
        )

    async def start(self, stack: AsyncExitStack) -> None:
        """Open the shared HTTP session (closed with `stack`)."""
        await self.sender.start(stack)

    def batch_limit(self, lease: timedelta) -> int:
        """Up to 1,000 per batch: `deliver_many` starts no request it could not finish in
        time and hands those back untried, so a batch never outlives its lease."""
        return MAX_BATCH

    async def deliver_many(self, jobs: Sequence[DeliveryJob], progress: Progress) -> None:
        """Check order, sign and post a batch concurrently, reporting each outcome."""
        if self.partners is None:
            for index in range(len(jobs)):
                progress.report(index, RetryLater(f"channel {self.name}: no partner registry"))
            return
        now = datetime.now(UTC)
        sends = await self._sort(self.partners, jobs, now, progress)
        gone = await self._post(jobs, sends, progress)
        for send, result in gone:
            partner_id = partner_id_of(jobs[send.index].delivery.recipient)
            if partner_id is not None:
                await self.partners.disable(partner_id, f"{result} at {now:%Y-%m-%d %H:%M} UTC")
                log.warning("partner %s disabled: %s", send.partner, result)

    async def _sort(
        self,
        partners: PartnerStore,
        jobs: Sequence[DeliveryJob],
        now: datetime,
        progress: Progress,
    ) -> list[_Send]:
        """What is settled without a request (partner removed or disabled, an earlier event
        still on its way), and the posts to make for the rest."""
        ids = {partner_id_of(job.delivery.recipient) for job in jobs}
        keys = await partners.signing_keys(i for i in ids if i is not None)
        types = await partners.event_types(self.name, [job.delivery for job in jobs])
        sends: list[_Send] = []
        for index, job in enumerate(jobs):
            d = job.delivery
            partner_id = partner_id_of(d.recipient)
            key = keys.get(partner_id) if partner_id is not None else None
            decided = types[d.id]
            if key is None:
                progress.report(index, Withdrawn(f"partner {d.recipient} was removed"))
            elif not key.partner.enabled:
                reason = key.partner.disabled_reason or "disabled"
                disabled = Withdrawn(f"partner {key.partner.name} is disabled ({reason})")
                progress.report(index, disabled)
            elif isinstance(decided, Waiting):
                waiting = Deferred(
                    f"waits for delivery {decided.blocker} of the same campaign to "
                    f"{key.partner.name}",
                    decided.wait(now),
                )
                progress.report(index, waiting)
            else:
                sends.append(_Send(index, key.partner.url, key.partner.name, decided, key.secrets))
        return sends

    async def _post(
        self, jobs: Sequence[DeliveryJob], sends: Sequence[_Send], progress: Progress
    ) -> list[tuple[_Send, Gone]]:
        """Sign and post each send, at most `connections` at once, each once it has a turn;
        reports each outcome, and returns the partners that answered 410 Gone."""
        bodies: dict[tuple[int, str, EventType], bytes] = {}
        for send in sends:
            d = jobs[send.index].delivery
            cache_key = (d.publication_id, d.locale, send.event_type)
            if cache_key not in bodies:
                bodies[cache_key] = with_type(await jobs[send.index].rendition(), send.event_type)
        # Requests start while there is time for them to end (their timeout) well before the
        # lease does; later ones are handed back untried, due again at once.
        lease_ends = min(job.delivery.lease_expires_at for job in jobs)
        start_before = lease_ends - timedelta(seconds=self.options.timeout) - LEASE_MARGIN
        gate = asyncio.Semaphore(self.options.connections)

        async def post(send: _Send) -> Gone | None:
            d = jobs[send.index].delivery
            async with gate:
                if datetime.now(UTC) > start_before or not await progress.admit(send.index):
                    late = Deferred("the batch ran out of time before this was sent")
                    progress.report(send.index, late)
                    return None
                body = bodies[d.publication_id, d.locale, send.event_type]
                result = await self.sender.send(send.url, f"msg_{d.dedup_key}", body, send.secrets)
            progress.report(send.index, result)
            return result if isinstance(result, Gone) else None

        results = await asyncio.gather(*(post(send) for send in sends))
        return [(send, gone) for send, gone in zip(sends, results, strict=True) if gone]

    async def deliver(self, job: DeliveryJob) -> str:
        """Send one delivery; a receipt, or RetryLater / Deferred / DeliveryRejected."""
        return await deliver_one(self, job)

    def describe(self) -> Mapping[str, object]:
        return masked(self.options)

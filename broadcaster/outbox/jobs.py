"""What passes between the outbox and the channels: renditions, claimed deliveries, and
what the workers need of a channel to hand it deliveries.

The outbox defines these and the channels implement them, so the outbox never imports a
channel: channels/base.py builds its `Channel` protocol on top of `Deliverer`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol, runtime_checkable

from broadcaster.outbox.outcomes import DeliveryRejected, Outcome, RetryLater, Withdrawn
from broadcaster.outbox.records import ClaimedDelivery


@dataclass(frozen=True)
class Rendition:
    """What one channel sends for one publication in one locale, rendered once."""

    channel: str
    locale: str
    media_type: str
    body: bytes
    summary: str
    # What `broadcaster preview --out` writes for this rendition (file name -> bytes).
    files: Mapping[str, bytes] = field(default_factory=dict)


class RenditionSource(Protocol):
    """Where stored renditions are read from (the outbox's content store)."""

    async def rendition(self, publication_id: int, channel: str, locale: str) -> bytes | None:
        """The stored body, or None when there is none."""
        ...


@dataclass(frozen=True)
class DeliveryJob:
    """One claimed delivery, with access to what was rendered for it."""

    delivery: ClaimedDelivery
    content: RenditionSource

    async def rendition(self) -> bytes:
        """The stored rendition for this delivery's channel and locale."""
        d = self.delivery
        body = await self.content.rendition(d.publication_id, d.channel, d.locale)
        if body is None:
            raise DeliveryRejected(f"no rendition stored for {d.channel}/{d.locale}")
        return body


class Deliverer(Protocol):
    """What the workers need of every channel: its name and a way to send one delivery."""

    name: str

    async def deliver(self, job: DeliveryJob) -> str:
        """Send one delivery; return a receipt, or raise RetryLater / DeliveryRejected."""
        ...


class Progress(Protocol):
    """Where a batch-delivering channel takes turns to send and reports as it goes.

    The workers record what is reported every few messages, so a crash or a store outage
    sends again only what was in flight: `admit` holds a send back while too many sent
    messages are still unrecorded.
    """

    async def admit(self, *indices: int) -> bool:
        """Wait until the sends of `jobs[i]`, for each of `indices`, may start. False: start
        no more (the batch's lease is running out, or the workers are stopping); what was
        not reported is handed back untried, due again at once."""
        ...

    def report(self, index: int, outcome: Outcome) -> None:
        """The outcome of `jobs[index]`, as soon as it is known (once per job)."""
        ...


class Collected:
    """A `Progress` that admits every send and keeps the outcomes (one-off deliveries)."""

    def __init__(self, count: int) -> None:
        self.outcomes: list[Outcome | None] = [None] * count

    async def admit(self, *indices: int) -> bool:
        return True

    def report(self, index: int, outcome: Outcome) -> None:
        self.outcomes[index] = outcome

    def outcome(self, index: int = 0) -> Outcome:
        """What was reported for `jobs[index]` (RetryLater when nothing was)."""
        found = self.outcomes[index]
        return found if found is not None else RetryLater("not attempted")


@runtime_checkable
class BatchDeliveringChannel(Protocol):
    """A channel that sends many deliveries at once (email fan-out, webhooks)."""

    name: str

    async def deliver_many(self, jobs: Sequence[DeliveryJob], progress: Progress) -> None:
        """Send the jobs, calling `progress.admit` before each send starts and
        `progress.report` with each job's outcome; never raises for a single job's
        failure. A job left unreported is handed back untried."""
        ...

    def batch_limit(self, lease: timedelta) -> int:
        """The most deliveries one batch should hold so it finishes well within `lease`."""
        ...


def batched(channels: Iterable[object]) -> frozenset[str]:
    """The names of those of `channels` that take batches (what `Outbox.enqueue` marks)."""
    return frozenset(c.name for c in channels if isinstance(c, BatchDeliveringChannel))


class BatchSender(Protocol):
    """Anything that sends deliveries in batches (a channel, or the mail engine behind one)."""

    async def deliver_many(self, jobs: Sequence[DeliveryJob], progress: Progress) -> None:
        """As `BatchDeliveringChannel.deliver_many`."""
        ...


async def deliver_one(sender: BatchSender, job: DeliveryJob) -> str:
    """One delivery through a batch sender: the receipt, or the outcome raised (a withdrawn
    one as DeliveryRejected)."""
    collected = Collected(1)
    await sender.deliver_many([job], collected)
    outcome = collected.outcome()
    if isinstance(outcome, Withdrawn):
        raise DeliveryRejected(str(outcome))
    if isinstance(outcome, RetryLater | DeliveryRejected):
        raise outcome
    return outcome

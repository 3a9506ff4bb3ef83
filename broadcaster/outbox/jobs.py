"""What passes between the outbox and the channels: renditions, claimed deliveries, and
what the workers need of a channel to hand it deliveries.

The outbox defines these and the channels implement them, so the outbox never imports a
channel: channels/base.py builds its `Channel` protocol on top of `Deliverer`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol, runtime_checkable

from broadcaster.outbox.outcomes import DeliveryRejected, Outcome
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


@runtime_checkable
class BatchDeliveringChannel(Protocol):
    """A channel that sends many deliveries at once (email fan-out, webhooks)."""

    name: str

    async def deliver_many(self, jobs: Sequence[DeliveryJob]) -> list[Outcome]:
        """One outcome per job, in order; never raises for a single job's failure."""
        ...

    def batch_limit(self, lease: timedelta) -> int:
        """The most deliveries one batch should hold so it finishes well within `lease`."""
        ...

"""What passes between the outbox and the channels: renditions and claimed deliveries.

Both the outbox (which stores renditions and claims deliveries) and the channels (which
render and deliver them) use these, so they live below both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from broadcaster.outbox.outcomes import DeliveryRejected
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

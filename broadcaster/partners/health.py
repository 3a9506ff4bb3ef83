"""How each partner's endpoint is doing: its last delivery and a week's outcomes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from broadcaster.outbox.tables import DeliveryStatus
from broadcaster.outbox.views import OutboxViews
from broadcaster.partners.store import Partner, partner_id_of

WINDOW = timedelta(days=7)
# Which counter each status adds to; created and sending are `pending`, cancelled nothing.
_COUNTED = {
    DeliveryStatus.DELIVERED: "delivered",
    DeliveryStatus.CREATED: "pending",
    DeliveryStatus.SENDING: "pending",
    DeliveryStatus.TEMPORARY_FAILURE: "retrying",
    DeliveryStatus.PERMANENT_FAILURE: "dead_lettered",
    DeliveryStatus.TECHNICAL_FAILURE: "dead_lettered",
}


@dataclass
class Health:
    """One partner's health, as the admin pages and API show it."""

    partner: Partner
    last_status: DeliveryStatus | None = None  # of its newest finished delivery
    last_at: datetime | None = None
    last_error: str | None = None
    delivered: int = 0  # these four: deliveries updated in the last 7 days
    pending: int = 0
    retrying: int = 0
    dead_lettered: int = 0

    @property
    def gone(self) -> bool:
        """Disabled because its endpoint answered 410 Gone."""
        reason = self.partner.disabled_reason or ""
        return not self.partner.enabled and "HTTP 410" in reason

    @property
    def state(self) -> str:
        """enabled, disabled, or gone (disabled by a 410 answer)."""
        if self.partner.enabled:
            return "enabled"
        return "gone" if self.gone else "disabled"


async def partner_health(
    engine: AsyncEngine, partners: Sequence[Partner], channels: Sequence[str], now: datetime
) -> list[Health]:
    """Health of each partner (in the order given) from its deliveries on `channels`."""
    found = {p.id: Health(p) for p in partners}
    if not found or not channels:
        return list(found.values())
    counts, lasts = await OutboxViews(engine).recipient_summary(channels, now - WINDOW)
    for recipient, status, count in counts:
        health = found.get(partner_id_of(recipient) or 0)
        counter = _COUNTED.get(DeliveryStatus(status))
        if health is not None and counter is not None:
            setattr(health, counter, getattr(health, counter) + count)
    for row in lasts:
        health = found.get(partner_id_of(row.recipient) or 0)
        if health is not None and (health.last_at is None or row.updated_at > health.last_at):
            health.last_status = DeliveryStatus(row.status)
            health.last_at = row.updated_at
            health.last_error = row.last_error
    return list(found.values())

"""Media partners managed by admins from the pages and the API.

The same checks and store as `broadcaster partners` (broadcaster.partners.commands): the SSRF
guard, topics and locales of the workspace, secrets made and shown once. Every change leaves
an audit entry naming the partner, never its secret.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from broadcaster.partners.commands import (
    PartnerDelivery,
    partner_log,
    replay_with,
    vet,
    webhook_channels,
)
from broadcaster.partners.health import Health, partner_health
from broadcaster.partners.store import DEFAULT_GRACE, Partner, PartnerError, PartnerStore
from broadcaster.staff.accounts import Session
from broadcaster.staff.tables import Role
from broadcaster.web.admin.desk import DeskError, need
from broadcaster.web.admin.parts import PartnerDesk

MAX_GRACE_HOURS = 24 * 14


def _store(desk: PartnerDesk) -> PartnerStore:
    return desk.partners


async def _existing(desk: PartnerDesk, name: str) -> Partner:
    try:
        return await _store(desk).get(name)
    except PartnerError as exc:
        raise DeskError(404, str(exc)) from None


async def _audit(
    desk: PartnerDesk, session: Session, action: str, name: str, ip: str | None, **detail: object
) -> None:
    await desk.approvals.audit.record(
        session.user.name, f"partner.{action}", detail={"partner": name, **detail}, ip=ip
    )


async def health(desk: PartnerDesk) -> list[Health]:
    """Every partner with its state, last delivery and a week's outcomes (by name)."""
    store = _store(desk)
    channels = sorted(webhook_channels(desk.workspace))
    return await partner_health(desk.engine, await store.all(), channels, datetime.now(UTC))


async def add(
    desk: PartnerDesk,
    session: Session,
    name: str,
    url: str,
    topics: Sequence[str],
    locales: Sequence[str],
    ip: str | None,
) -> tuple[Partner, str]:
    """Register a partner (admin); (it, its new secret: shown this once, never again)."""
    need(session, Role.ADMIN, "adding partners")
    name, url = name.strip(), url.strip()
    try:
        await vet(desk.workspace, url, topics, locales)
        partner, secret = await _store(desk).add(name, url, topics, locales)
    except PartnerError as exc:
        raise DeskError(422, str(exc)) from None
    detail = {"url": url, "topics": list(topics), "locales": list(locales)}
    await _audit(desk, session, "added", partner.name, ip, **detail)
    return partner, secret


async def rotate(
    desk: PartnerDesk, session: Session, name: str, grace_hours: float | None, ip: str | None
) -> tuple[Partner, str]:
    """A new secret (admin); the old one keeps signing for the grace period."""
    need(session, Role.ADMIN, "rotating partner secrets")
    grace = DEFAULT_GRACE if grace_hours is None else timedelta(hours=grace_hours)
    if not timedelta(0) <= grace <= timedelta(hours=MAX_GRACE_HOURS):
        raise DeskError(422, f"the grace period is 0 to {MAX_GRACE_HOURS} hours")
    await _existing(desk, name)
    partner, secret = await _store(desk).rotate(name, grace)
    hours = grace.total_seconds() / 3600
    await _audit(desk, session, "secret-rotated", name, ip, grace_hours=hours)
    return partner, secret


async def set_enabled(
    desk: PartnerDesk, session: Session, name: str, enabled: bool, ip: str | None
) -> Partner:
    """Enable or disable a partner (admin); enabling clears a 410's disabling too."""
    need(session, Role.ADMIN, "enabling or disabling partners")
    await _existing(desk, name)
    partner = await _store(desk).set_enabled(
        name, enabled, None if enabled else f"disabled by {session.user.name}"
    )
    await _audit(desk, session, "enabled" if enabled else "disabled", name, ip)
    return partner


async def remove(desk: PartnerDesk, session: Session, name: str, ip: str | None) -> Partner:
    """Remove a partner and its secrets (admin); its delivery log stays."""
    need(session, Role.ADMIN, "removing partners")
    await _existing(desk, name)
    partner = await _store(desk).remove(name)
    await _audit(desk, session, "removed", name, ip, url=partner.url)
    return partner


async def log(
    desk: PartnerDesk, session: Session, name: str, limit: int = 100
) -> tuple[Partner, list[PartnerDelivery]]:
    """A partner and its newest deliveries (admin)."""
    need(session, Role.ADMIN, "reading a partner's deliveries")
    partner = await _existing(desk, name)
    return partner, await partner_log(desk.engine, partner, limit)


async def replay(desk: PartnerDesk, session: Session, delivery_id: int, ip: str | None) -> Partner:
    """Send a finished (dead-lettered) webhook delivery again: same webhook-id, same body."""
    need(session, Role.ADMIN, "replaying partner deliveries")
    try:
        partner = await replay_with(_store(desk), desk.outbox, desk.workspace, delivery_id)
    except PartnerError as exc:
        status = 404 if str(exc).startswith("no webhook delivery") else 409
        raise DeskError(status, str(exc)) from None
    desk.workers.wake()
    await _audit(desk, session, "replayed", partner.name, ip, delivery=delivery_id)
    return partner

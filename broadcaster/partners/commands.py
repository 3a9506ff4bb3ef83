"""What the `partners` commands do, apart from parsing arguments."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from sqlalchemy.ext.asyncio import AsyncEngine

from broadcaster.outbox.outbox import Outbox
from broadcaster.outbox.tables import DeliveryStatus
from broadcaster.outbox.views import OutboxViews
from broadcaster.partners.events import stored_event_types
from broadcaster.partners.guard import EndpointRefused, Network, check_endpoint
from broadcaster.partners.store import (
    DEFAULT_GRACE,
    Partner,
    PartnerError,
    PartnerStore,
    partner_id_of,
)
from broadcaster.settings import Settings
from broadcaster.store import create_engine, upgrade_engine
from broadcaster.workspace.models import Workspace


@dataclass(frozen=True)
class PartnerDelivery:
    """One line of `partners deliveries NAME`."""

    id: int
    publication_id: int
    campaign: str
    locale: str
    event_type: str | None
    status: DeliveryStatus
    attempts: int
    updated_at: datetime
    last_error: str | None


@runtime_checkable
class PartnerDefaults(Protocol):
    """What these commands read from a webhook channel's options (the channel adapts this
    engine, so the engine names what it needs rather than importing the channel)."""

    @property
    def allow_networks(self) -> Sequence[Network]: ...


def webhook_channels(workspace: Workspace) -> dict[str, PartnerDefaults]:
    """The workspace's webhook channel files, by name."""
    return {
        name: config.options
        for name, config in workspace.channels.items()
        if config.type == "webhook" and isinstance(config.options, PartnerDefaults)
    }


def allowed_networks(workspace: Workspace) -> list[Network]:
    """Every `allow_networks:` entry of the workspace's webhook channels."""
    return [n for options in webhook_channels(workspace).values() for n in options.allow_networks]


@asynccontextmanager
async def registry(settings: Settings) -> AsyncIterator[tuple[PartnerStore, AsyncEngine]]:
    """The partner store on the workspace's (migrated) database."""
    engine = create_engine(settings.database_url)
    try:
        await upgrade_engine(engine)
        yield PartnerStore(engine, lambda: settings.secret_key), engine
    finally:
        await engine.dispose()


def _check_choices(kind: str, given: Sequence[str], known: Sequence[str], where: str) -> None:
    unknown = [value for value in given if value not in known]
    if unknown:
        raise PartnerError(
            f"unknown {kind} {', '.join(unknown)}: use {', '.join(known)} (from {where})"
        )


async def vet(
    workspace: Workspace, url: str, topics: Sequence[str], locales: Sequence[str]
) -> None:
    """Refuse (PartnerError, saying why) a partner the workspace could not send to: no
    webhook channel, unknown topics or locales, or an endpoint the SSRF guard refuses."""
    if not webhook_channels(workspace):
        raise PartnerError(
            "the workspace has no webhook channel: add channels/partners.yaml with "
            "`type: webhook` (see docs/partners.md) so partners are sent anything"
        )
    _check_choices("topic", topics, sorted(workspace.topics), "campaigns/topics.yaml")
    _check_choices("locale", locales, list(workspace.locales), "the campaigns' <locale>.md files")
    try:
        await check_endpoint(url, allowed_networks(workspace))
    except EndpointRefused as exc:
        raise PartnerError(str(exc)) from None


async def add_partner(
    settings: Settings,
    workspace: Workspace,
    name: str,
    url: str,
    topics: Sequence[str],
    locales: Sequence[str],
) -> tuple[Partner, str]:
    """Check the endpoint with the SSRF guard, then register the partner; (it, its secret)."""
    await vet(workspace, url, topics, locales)
    async with registry(settings) as (store, _):
        return await store.add(name, url, topics, locales)


async def list_partners(settings: Settings) -> list[Partner]:
    """Every registered partner."""
    async with registry(settings) as (store, _):
        return await store.all()


async def show_partner(settings: Settings, name: str) -> tuple[Partner, dict[str, int]]:
    """One partner and how many of its deliveries are in each status."""
    async with registry(settings) as (store, engine):
        partner = await store.get(name)
        counts: dict[str, int] = {}
        for item in await partner_log(engine, partner, limit=None):
            counts[item.status] = counts.get(item.status, 0) + 1
        return partner, counts


async def rotate_secret(
    settings: Settings, name: str, grace: timedelta = DEFAULT_GRACE
) -> tuple[Partner, str]:
    """A new secret; the old one keeps signing next to it for `grace`."""
    async with registry(settings) as (store, _):
        return await store.rotate(name, grace)


async def set_enabled(settings: Settings, name: str, enabled: bool) -> Partner:
    """Enable or disable a partner."""
    async with registry(settings) as (store, _):
        return await store.set_enabled(name, enabled, None if enabled else "disabled by staff")


async def remove_partner(settings: Settings, name: str) -> Partner:
    """Remove a partner and its secrets (its delivery log stays)."""
    async with registry(settings) as (store, _):
        return await store.remove(name)


async def partner_deliveries(settings: Settings, name: str, limit: int) -> list[PartnerDelivery]:
    """The partner's newest deliveries, newest first."""
    async with registry(settings) as (store, engine):
        return await partner_log(engine, await store.get(name), limit)


async def partner_log(
    engine: AsyncEngine, partner: Partner, limit: int | None
) -> list[PartnerDelivery]:
    """The partner's deliveries, newest first (at most `limit`)."""
    rows = await OutboxViews(engine).deliveries_to(f"{partner.id}/", limit)
    events = await stored_event_types(engine, [row.id for row in rows])
    return [
        PartnerDelivery(
            row.id,
            row.publication_id,
            row.campaign_id,
            row.locale,
            events.get(row.id),
            DeliveryStatus(row.status),
            row.attempts,
            row.updated_at,
            row.last_error,
        )
        for row in rows
    ]


async def replay(settings: Settings, workspace: Workspace, delivery_id: int) -> Partner:
    """Queue a finished webhook delivery again (same webhook-id, same body); its partner."""
    async with registry(settings) as (store, engine):
        return await replay_with(store, Outbox(engine), workspace, delivery_id)


async def replay_with(
    store: PartnerStore, outbox: Outbox, workspace: Workspace, delivery_id: int
) -> Partner:
    """`replay` on an open store and outbox (the CLI's and the running service's)."""
    delivery = await outbox.delivery(delivery_id)
    channels = webhook_channels(workspace)
    if delivery is None or delivery.channel not in channels:
        raise PartnerError(
            f"no webhook delivery {delivery_id}; see `broadcaster partners deliveries NAME`"
        )
    partner_id = partner_id_of(delivery.recipient)
    partner = (await store.by_ids([partner_id] if partner_id else [])).get(partner_id or 0)
    if partner is None:
        raise PartnerError(f"delivery {delivery_id} was to a partner that has been removed")
    if not partner.enabled:
        raise PartnerError(
            f"partner {partner.name} is disabled ({partner.disabled_reason}); "
            f"`broadcaster partners enable {partner.name}` first"
        )
    if not await outbox.replay(delivery_id):
        raise PartnerError(
            f"delivery {delivery_id} is still {delivery.status}: it will be sent anyway; "
            "replay only finished deliveries"
        )
    return partner

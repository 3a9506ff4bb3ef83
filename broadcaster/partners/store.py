"""The partner registry in the store: add, list, rotate secrets, disable, enable, remove."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from broadcaster.outbox.records import AnyRow, ClaimedDelivery
from broadcaster.partners.events import Waiting, event_types, told_about
from broadcaster.partners.hub import HubStore
from broadcaster.partners.secrets import SecretBox, new_secret
from broadcaster.partners.tables import EventType, partners
from broadcaster.store.engine import write_transaction

NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")
DEFAULT_GRACE = timedelta(hours=24)


class PartnerError(Exception):
    """A request about partners that cannot be carried out; the message says why."""


@dataclass(frozen=True)
class Partner:
    """A registered endpoint, without its secrets (safe to print and log)."""

    id: int
    name: str
    url: str
    topics: tuple[str, ...]  # () = every topic
    locales: tuple[str, ...]  # () = every locale
    enabled: bool
    disabled_reason: str | None
    previous_until: datetime | None  # the previous secret still signs until then
    created_at: datetime
    updated_at: datetime

    def wants(self, topics: Iterable[str]) -> bool:
        """Whether a campaign with `topics` goes to this partner."""
        return not self.topics or bool(set(self.topics) & set(topics))

    def locales_for(self, available: Sequence[str], default: str) -> list[str]:
        """The locales to send a campaign written in `available` in (see docs/partners.md).

        One event per locale the partner asked for that the campaign is written in; when it
        is written in none of them, one event in the default locale, so no one misses it.
        """
        wanted = [loc for loc in (self.locales or available) if loc in available]
        return wanted or [default]


@dataclass(frozen=True)
class SigningKeys:
    """What sending to one partner needs: where, and every secret that signs now."""

    partner: Partner
    secrets: tuple[str, ...]  # newest first


def recipient(partner_id: int, locale: str) -> str:
    """The outbox recipient of one partner's events in one locale."""
    return f"{partner_id}/{locale}"


def partner_id_of(recipient_key: str) -> int | None:
    """The partner id in an outbox recipient made by `recipient`, or None."""
    head = recipient_key.split("/", 1)[0]
    return int(head) if head.isdigit() else None


class PartnerStore:
    """Partners in the store; secrets sealed with a key derived from the service's key."""

    def __init__(
        self,
        engine: AsyncEngine,
        secret_key: Callable[[], bytes],
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._engine = engine
        self._secret_key = secret_key
        self.box = SecretBox(secret_key)
        self._clock = clock
        self._hub: HubStore | None = None

    @property
    def hub(self) -> HubStore:
        """The WebSub subscriptions to the feeds, on the same store and key."""
        if self._hub is None:
            self._hub = HubStore(self._engine, self._secret_key, clock=self._clock)
        return self._hub

    async def add(
        self, name: str, url: str, topics: Sequence[str] = (), locales: Sequence[str] = ()
    ) -> tuple[Partner, str]:
        """Register a partner; returns it and its new secret (shown once, never again)."""
        if not NAME.fullmatch(name):
            raise PartnerError(
                f"partner name {name!r}: use lower-case letters, digits, '.', '-' or '_' "
                "(up to 100), like baokhanhhoa"
            )
        secret = new_secret()
        now = self._clock()
        values = {
            "name": name,
            "url": url,
            "topics": list(topics),
            "locales": list(locales),
            "secret": self.box.seal(secret),
            "enabled": True,
            "created_at": now,
            "updated_at": now,
        }
        try:
            async with write_transaction(self._engine) as conn:
                await conn.execute(insert(partners), values)
        except IntegrityError:
            raise PartnerError(
                f"a partner named {name!r} exists already; pick another name "
                f"or `broadcaster partners remove {name}` first"
            ) from None
        return await self.get(name), secret

    async def all(self) -> list[Partner]:
        """Every partner, by name."""
        async with self._engine.connect() as conn:
            rows = await conn.execute(select(partners).order_by(partners.c.name))
            return [_partner(row) for row in rows]

    async def get(self, name: str) -> Partner:
        """The partner called `name`; PartnerError naming the known ones otherwise."""
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(partners).where(partners.c.name == name))).first()
        if row is None:
            known = ", ".join(p.name for p in await self.all()) or "none yet"
            raise PartnerError(f"no partner named {name!r} (registered: {known})")
        return _partner(row)

    async def by_ids(self, ids: Iterable[int]) -> dict[int, Partner]:
        """The partners with these ids (removed ones are missing)."""
        wanted = sorted(set(ids))
        if not wanted:
            return {}
        async with self._engine.connect() as conn:
            rows = await conn.execute(select(partners).where(partners.c.id.in_(wanted)))
            return {row.id: _partner(row) for row in rows}

    async def enabled(self) -> list[Partner]:
        """The partners that receive events."""
        return [p for p in await self.all() if p.enabled]

    async def signing_keys(self, ids: Iterable[int]) -> dict[int, SigningKeys]:
        """Endpoint and current secrets for these partners (the previous one during grace)."""
        wanted = sorted(set(ids))
        if not wanted:
            return {}
        now = self._clock()
        async with self._engine.connect() as conn:
            rows = (await conn.execute(select(partners).where(partners.c.id.in_(wanted)))).all()
        keys: dict[int, SigningKeys] = {}
        for row in rows:
            secrets = [self.box.open(row.secret)]
            if row.previous_secret and row.previous_until and row.previous_until > now:
                secrets.append(self.box.open(row.previous_secret))
            keys[row.id] = SigningKeys(_partner(row), tuple(secrets))
        return keys

    async def rotate(self, name: str, grace: timedelta = DEFAULT_GRACE) -> tuple[Partner, str]:
        """A new secret for `name`; the current one keeps signing alongside for `grace`."""
        partner = await self.get(name)
        now = self._clock()
        secret = new_secret()
        async with write_transaction(self._engine) as conn:
            current = (
                await conn.execute(select(partners.c.secret).where(partners.c.id == partner.id))
            ).scalar_one()
            await conn.execute(
                update(partners)
                .where(partners.c.id == partner.id)
                .values(
                    secret=self.box.seal(secret),
                    previous_secret=current if grace > timedelta(0) else None,
                    previous_until=now + grace if grace > timedelta(0) else None,
                    updated_at=now,
                )
            )
        return await self.get(name), secret

    async def set_enabled(self, name: str, enabled: bool, reason: str | None = None) -> Partner:
        """Enable or disable `name` (disabled partners are sent nothing)."""
        partner = await self.get(name)
        await self._update(partner.id, enabled=enabled, disabled_reason=None if enabled else reason)
        return await self.get(name)

    async def disable(self, partner_id: int, reason: str) -> None:
        """Disable a partner by id (its endpoint answered 410 Gone)."""
        await self._update(partner_id, enabled=False, disabled_reason=reason)

    async def remove(self, name: str) -> Partner:
        """Delete `name` and its secrets; its delivery log stays."""
        partner = await self.get(name)
        async with write_transaction(self._engine) as conn:
            await conn.execute(delete(partners).where(partners.c.id == partner.id))
        return partner

    async def event_types(
        self, channel: str, claimed: Sequence[ClaimedDelivery]
    ) -> dict[int, EventType | Waiting]:
        """For each claimed delivery: the event it carries, or what it waits for."""
        return await event_types(self._engine, channel, claimed)

    async def told_about(
        self, channel: str, campaign_id: str, before: int | None = None
    ) -> list[tuple[str, str]]:
        """(recipient, locale) of the partners that had (or have queued) the campaign."""
        return await told_about(self._engine, channel, campaign_id, before)

    async def _update(self, partner_id: int, **values: Any) -> None:
        async with write_transaction(self._engine) as conn:
            await conn.execute(
                update(partners)
                .where(partners.c.id == partner_id)
                .values(updated_at=self._clock(), **values)
            )


def _partner(row: AnyRow) -> Partner:
    return Partner(
        id=row.id,
        name=row.name,
        url=row.url,
        topics=tuple(row.topics),
        locales=tuple(row.locales),
        enabled=bool(row.enabled),
        disabled_reason=row.disabled_reason,
        previous_until=row.previous_until,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )

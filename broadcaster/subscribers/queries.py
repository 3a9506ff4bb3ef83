"""Queries the subscriber store runs inside the caller's transaction."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, exists, func, literal, select
from sqlalchemy.ext.asyncio import AsyncConnection

from broadcaster.outbox import recipients
from broadcaster.outbox.records import AnyRow
from broadcaster.store.engine import insert_or_ignore
from broadcaster.subscribers.api import Recipient, Subscriber, SubscriberStatus
from broadcaster.subscribers.tables import (
    ConsentAction,
    ConsentForm,
    SuppressionReason,
    consents,
    counted_bounces,
    subscribers,
    suppressions,
)
from broadcaster.workspace.models import Frequency

s, c, sup = subscribers, consents, suppressions

# What an erased address is replaced with in delivery error texts and receipts.
ERASED = "[erased]"

RECIPIENT_COLUMNS = (s.c.id, s.c.email, s.c.locale, s.c.token_version)


def to_subscriber(row: AnyRow) -> Subscriber:
    """A `subscribers` row as the API's Subscriber."""
    return Subscriber(
        id=row.id,
        email=row.email,
        locale=row.locale,
        topics=tuple(row.topics),
        frequency=Frequency(row.frequency),
        status=SubscriberStatus(row.status),
        created_at=row.created_at,
        confirmed_at=row.confirmed_at,
        unsubscribed_at=row.unsubscribed_at,
        last_digest_at=row.last_digest_at,
        token_version=row.token_version,
    )


def to_recipient(row: AnyRow) -> Recipient:
    """A row of RECIPIENT_COLUMNS as a Recipient."""
    return Recipient(id=row.id, email=row.email, locale=row.locale, token_version=row.token_version)


def not_suppressed() -> ColumnElement[bool]:
    """The subscriber's address hash is not in `suppressions`."""
    return ~exists().where(sup.c.email_hash == s.c.email_hash)


def sendable_now() -> tuple[ColumnElement[bool], ...]:
    """Conditions for a subscriber that may be mailed now."""
    return (s.c.status == SubscriberStatus.CONFIRMED, not_suppressed())


def topics_overlap(dialect: str, topics: Sequence[str]) -> ColumnElement[bool]:
    """The subscriber's JSON topic list shares at least one of `topics` (filtered in SQL)."""
    if dialect == "postgresql":
        elements = func.json_array_elements_text(s.c.topics).table_valued("value")
    elif dialect == "sqlite":
        elements = func.json_each(s.c.topics).table_valued("value")
    else:
        raise ValueError(f"unsupported database dialect {dialect!r}")
    return exists(select(literal(1)).select_from(elements).where(elements.c.value.in_(topics)))


async def find_by_hash(conn: AsyncConnection, email_hash: str) -> AnyRow | None:
    """The subscriber with this address hash, locked for update (on PostgreSQL)."""
    query = select(s).where(s.c.email_hash == email_hash).with_for_update()
    return (await conn.execute(query)).first()


async def find_by_id(
    conn: AsyncConnection, subscriber_id: int, lock: bool = False
) -> AnyRow | None:
    """The subscriber with this id; `lock` takes a row lock (on PostgreSQL)."""
    query = select(s).where(s.c.id == subscriber_id)
    if lock:
        query = query.with_for_update()
    return (await conn.execute(query)).first()


async def is_suppressed(conn: AsyncConnection, email_hash: str) -> bool:
    """Whether this address hash is suppressed."""
    query = select(literal(1)).where(sup.c.email_hash == email_hash)
    return (await conn.execute(query)).first() is not None


async def add_suppression(
    conn: AsyncConnection, email_hash: str, reason: SuppressionReason, now: datetime
) -> None:
    """Suppress this hash; an existing suppression keeps its first reason."""
    insert = insert_or_ignore(conn.dialect, sup, "email_hash")
    await conn.execute(insert.values(email_hash=email_hash, reason=reason, created_at=now))


async def count_bounce_once(
    conn: AsyncConnection, message_key: str, email_hash: str, now: datetime
) -> bool:
    """Note that this message's bounce of this address is scored; False when it was already."""
    cb = counted_bounces
    insert = insert_or_ignore(conn.dialect, cb, "message_key", "email_hash")
    values = {"message_key": message_key, "email_hash": email_hash, "counted_at": now}
    result = await conn.execute(insert.values(**values).returning(cb.c.message_key))
    return result.first() is not None


async def bounce_counted(conn: AsyncConnection, message_key: str) -> bool:
    """Whether a bounce in the message with this key was scored for some address."""
    cb = counted_bounces
    query = select(literal(1)).where(cb.c.message_key == message_key).limit(1)
    return (await conn.execute(query)).first() is not None


async def add_consent(
    conn: AsyncConnection,
    subscriber_id: int,
    action: ConsentAction,
    form: ConsentForm,
    now: datetime,
    *,
    ip: str | None = None,
    wording_version: str | None = None,
    note: str | None = None,
) -> None:
    """Append one consent record."""
    await conn.execute(
        c.insert().values(
            subscriber_id=subscriber_id,
            action=action,
            at=now,
            ip=ip,
            form=form,
            wording_version=wording_version,
            note=note,
        )
    )


async def cancel_queued(
    conn: AsyncConnection,
    subscriber_id: int,
    channels: Collection[str] | None,
    now: datetime,
    reason: str,
) -> int:
    """Cancel the subscriber's deliveries still waiting to go out (what Outbox.cancel does)."""
    return await recipients.cancel_queued(conn, str(subscriber_id), channels, now, reason)


async def scrub_delivery_texts(
    conn: AsyncConnection, subscriber_id: int, channels: Collection[str] | None, email: str
) -> None:
    """Blank the address out of the subscriber's delivery errors and receipts (SMTP replies
    quote it, in any case), so that erasure leaves it nowhere in the store."""
    pattern = re.compile(re.escape(email), re.IGNORECASE)
    await recipients.scrub_texts(
        conn, str(subscriber_id), channels, lambda text: pattern.sub(ERASED, text)
    )


def personal_data(row: AnyRow, records: Sequence[AnyRow], *, suppressed: bool) -> dict[str, Any]:
    """Everything kept about one subscriber, JSON-ready ("download my data")."""

    def when(value: datetime | None) -> str | None:
        return None if value is None else value.isoformat()

    return {
        "email": row.email,
        "locale": row.locale,
        "topics": list(row.topics),
        "frequency": row.frequency,
        "status": row.status,
        "created_at": when(row.created_at),
        "confirmed_at": when(row.confirmed_at),
        "unsubscribed_at": when(row.unsubscribed_at),
        "last_digest_at": when(row.last_digest_at),
        "last_confirmation_sent_at": when(row.last_confirmation_sent_at),
        "bounce_score": row.bounce_score,
        "last_bounce_at": when(row.last_bounce_at),
        "suppressed": suppressed,
        "consents": [
            {
                "action": record.action,
                "at": when(record.at),
                "ip": record.ip,
                "form": record.form,
                "wording_version": record.wording_version,
                "note": record.note,
            }
            for record in records
        ],
    }

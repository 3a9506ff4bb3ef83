"""The subscriber store on SQLite or PostgreSQL (implements `api.SubscriberStore`).

Addresses are kept normalised (email-validator) and looked up by a keyed hash, the same
hash `suppressions` keeps, so that a suppression outlives the erasure of the address.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from broadcaster.outbox.outbox import Clock, utc_now
from broadcaster.outbox.records import AnyRow
from broadcaster.store.engine import insert_or_ignore, write_transaction
from broadcaster.subscribers import queries as q
from broadcaster.subscribers.addresses import AddressHasher, normalise
from broadcaster.subscribers.api import (
    CONSENT_WORDING_VERSION,
    SubscribeOutcome,
    Subscriber,
    SubscriberStatus,
)
from broadcaster.subscribers.mailing import CONFIRMATION_SWEEP_AFTER, MailingQueries
from broadcaster.subscribers.tables import (
    ConsentAction,
    ConsentForm,
    SuppressionReason,
    consents,
    subscribers,
)
from broadcaster.workspace.models import Frequency

# A pending subscriber asking again gets another confirmation email only this long after
# the last one, so the form cannot be used to flood someone's inbox.
RESEND_CONFIRMATION_AFTER = timedelta(minutes=10)
# Soft bounces (mailbox full, greylisting gone wrong) suppress an address once this many
# arrive with no gap longer than SOFT_BOUNCE_WINDOW between them: the score starts again
# from zero after a quiet month, so soft bounces months apart never add up.
SOFT_BOUNCE_THRESHOLD = 3
SOFT_BOUNCE_WINDOW = timedelta(days=30)

s = subscribers


def _topics(topics: Sequence[str]) -> list[str]:
    chosen = list(dict.fromkeys(t.strip() for t in topics if t.strip()))
    if not chosen:
        raise ValueError("choose at least one topic")
    return chosen


def _locale(locale: str) -> str:
    if not locale or len(locale) > 16:
        raise ValueError(f"locale {locale!r} is not a locale code like 'vi' or 'en'")
    return locale


async def _insert_pending(
    conn: AsyncConnection, address: str, email_hash: str, values: dict[str, Any], now: datetime
) -> int | None:
    """Add a pending subscriber whose confirmation goes out now; None if a concurrent
    request added the address first."""
    insert = insert_or_ignore(conn.dialect, s, "email_hash").values(
        email=address,
        email_hash=email_hash,
        created_at=now,
        last_confirmation_sent_at=now,
        confirmation_due_at=now + CONFIRMATION_SWEEP_AFTER,
        token_version=0,
        bounce_score=0,
        **values,
    )
    new_id: int | None = (await conn.execute(insert.returning(s.c.id))).scalar()
    return new_id


async def _request_again(
    conn: AsyncConnection, row: AnyRow, values: dict[str, Any], now: datetime
) -> bool:
    """Make a known, unconfirmed subscriber pending with these choices; True when a new
    confirmation mail is due (none was sent within RESEND_CONFIRMATION_AFTER)."""
    last_sent = row.last_confirmation_sent_at
    send = last_sent is None or now - last_sent >= RESEND_CONFIRMATION_AFTER
    if send:
        values["last_confirmation_sent_at"] = now
        values["confirmation_due_at"] = now + CONFIRMATION_SWEEP_AFTER
    if row.status == SubscriberStatus.UNSUBSCRIBED:
        values.update(confirmed_at=None, unsubscribed_at=None)
    await conn.execute(update(s).where(s.c.id == row.id).values(**values))
    return bool(send)


class SqlSubscriberStore(MailingQueries):
    """Subscribers, consent records and suppressions (see `api.SubscriberStore`).

    `subscriber_channels`, when given, limits the cancelling of queued deliveries on
    unsubscribe/suppress/delete to those channels; by default every delivery whose
    recipient is the subscriber's id (as text) is cancelled.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        secret: bytes,
        clock: Clock = utc_now,
        *,
        subscriber_channels: Collection[str] | None = None,
    ) -> None:
        self._engine = engine
        self._hash = AddressHasher(secret)
        self._clock = clock
        self._channels = None if subscriber_channels is None else tuple(subscriber_channels)

    def _now(self) -> datetime:
        now = self._clock()
        if now.tzinfo is None:
            raise ValueError("the subscriber store clock must return timezone-aware datetimes")
        return now.astimezone(UTC)

    async def request(
        self,
        email: str,
        *,
        locale: str,
        topics: Sequence[str],
        frequency: Frequency,
        ip: str | None,
        form: str,
        wording_version: str = CONSENT_WORDING_VERSION,
    ) -> SubscribeOutcome:
        """Record a subscribe request (pending) and its consent record.

        A confirmed subscriber is left as is: an unauthenticated form must not change
        their preferences. An unsubscribed one starts over as pending.
        """
        address = normalise(email)
        email_hash = self._hash(address)
        values: dict[str, Any] = {
            "locale": _locale(locale),
            "topics": _topics(topics),
            "frequency": Frequency(frequency),
            "status": SubscriberStatus.PENDING,
        }
        consent_form = ConsentForm(form)
        now = self._now()
        async with write_transaction(self._engine) as conn:
            if await q.is_suppressed(conn, email_hash):
                return SubscribeOutcome(subscriber_id=None, send_confirmation=False)
            row = await q.find_by_hash(conn, email_hash)
            if row is None:
                new_id = await _insert_pending(conn, address, email_hash, values, now)
                if new_id is not None:
                    await q.add_consent(
                        conn,
                        new_id,
                        ConsentAction.SUBSCRIBE,
                        consent_form,
                        now,
                        ip=ip,
                        wording_version=wording_version,
                    )
                    return SubscribeOutcome(subscriber_id=new_id, send_confirmation=True)
                row = await q.find_by_hash(conn, email_hash)  # a concurrent request won
                assert row is not None
            if row.status == SubscriberStatus.CONFIRMED:
                return SubscribeOutcome(subscriber_id=row.id, send_confirmation=False)
            send = await _request_again(conn, row, values, now)
            await q.add_consent(
                conn,
                row.id,
                ConsentAction.SUBSCRIBE,
                consent_form,
                now,
                ip=ip,
                wording_version=wording_version,
            )
            return SubscribeOutcome(subscriber_id=row.id, send_confirmation=send)

    async def confirm(self, subscriber_id: int, *, ip: str | None) -> bool:
        """Confirm a pending subscriber; idempotent; False when unknown, deleted or
        unsubscribed since (they must subscribe again)."""
        now = self._now()
        async with write_transaction(self._engine) as conn:
            row = await q.find_by_id(conn, subscriber_id, lock=True)
            if row is None or row.status == SubscriberStatus.UNSUBSCRIBED:
                return False
            if row.status == SubscriberStatus.CONFIRMED:
                return True
            await conn.execute(
                update(s)
                .where(s.c.id == subscriber_id)
                .values(status=SubscriberStatus.CONFIRMED, confirmed_at=now)
            )
            await q.add_consent(
                conn, subscriber_id, ConsentAction.CONFIRM, ConsentForm.WEB, now, ip=ip
            )
            return True

    async def get(self, subscriber_id: int) -> Subscriber | None:
        """The subscriber, or None when unknown or deleted."""
        async with self._engine.connect() as conn:
            row = await q.find_by_id(conn, subscriber_id)
        return None if row is None else q.to_subscriber(row)

    async def update_preferences(
        self,
        subscriber_id: int,
        *,
        topics: Sequence[str],
        locale: str,
        frequency: Frequency,
        ip: str | None,
    ) -> bool:
        """Change topics, language and frequency (status unchanged); False when unknown."""
        chosen, locale, frequency = _topics(topics), _locale(locale), Frequency(frequency)
        now = self._now()
        async with write_transaction(self._engine) as conn:
            changed = await conn.execute(
                update(s)
                .where(s.c.id == subscriber_id)
                .values(topics=chosen, locale=locale, frequency=frequency)
            )
            if changed.rowcount == 0:
                return False
            note = f"topics={';'.join(chosen)} locale={locale} frequency={frequency}"
            await q.add_consent(
                conn,
                subscriber_id,
                ConsentAction.PREFERENCES,
                ConsentForm.WEB,
                now,
                ip=ip,
                note=note,
            )
            return True

    async def unsubscribe(self, subscriber_id: int, *, ip: str | None, how: str) -> bool:
        """Stop all mail to this subscriber; idempotent. Queued deliveries are cancelled too.

        `how` is the consent form: web, one-click, mailto, complaint, cli, json.
        """
        form = ConsentForm(how)
        now = self._now()
        async with write_transaction(self._engine) as conn:
            row = await q.find_by_id(conn, subscriber_id, lock=True)
            if row is None:
                return False
            await q.cancel_queued(conn, subscriber_id, self._channels, now, "unsubscribed")
            if row.status != SubscriberStatus.UNSUBSCRIBED:
                await conn.execute(
                    update(s)
                    .where(s.c.id == subscriber_id)
                    .values(status=SubscriberStatus.UNSUBSCRIBED, unsubscribed_at=now)
                )
                await q.add_consent(
                    conn, subscriber_id, ConsentAction.UNSUBSCRIBE, form, now, ip=ip
                )
            return True

    async def export_data(self, subscriber_id: int) -> dict[str, Any] | None:
        """Everything kept about the subscriber (JSON-ready), for "download my data"."""
        async with self._engine.connect() as conn:
            row = await q.find_by_id(conn, subscriber_id)
            if row is None:
                return None
            records = await conn.execute(
                select(consents)
                .where(consents.c.subscriber_id == subscriber_id)
                .order_by(consents.c.id)
            )
            suppressed = await q.is_suppressed(conn, row.email_hash)
            return q.personal_data(row, records.all(), suppressed=suppressed)

    async def delete(self, subscriber_id: int) -> bool:
        """Erase personal data; keep only a keyed hash of the address as a suppression.

        The row and its consent records go; queued deliveries are cancelled and the address
        is blanked out of delivery error texts. Tokens die with the row: ids are never
        reused (AUTOINCREMENT / sequences), so no later subscriber can match them.
        """
        now = self._now()
        async with write_transaction(self._engine) as conn:
            row = await q.find_by_id(conn, subscriber_id, lock=True)
            if row is None:
                return False
            await q.add_suppression(conn, row.email_hash, SuppressionReason.DELETED, now)
            await q.cancel_queued(conn, subscriber_id, self._channels, now, "deleted")
            await q.scrub_delivery_texts(conn, subscriber_id, self._channels, row.email)
            await conn.execute(delete(s).where(s.c.id == subscriber_id))
            return True

    async def suppress(self, email: str, reason: str) -> None:
        """Never mail this address again (hard bounce, complaint, deletion, manual).

        Raises InvalidAddress for something that is not an address at all.
        """
        why = SuppressionReason(reason)
        email_hash = self._hash(normalise(email))
        now = self._now()
        async with write_transaction(self._engine) as conn:
            await q.add_suppression(conn, email_hash, why, now)
            row = await q.find_by_hash(conn, email_hash)
            if row is not None:
                await q.cancel_queued(conn, row.id, self._channels, now, f"suppressed: {why}")

    async def record_bounce(self, email: str, *, hard: bool, message: str = "") -> bool:
        """Score a bounce; returns True when the address is now suppressed.

        A hard bounce suppresses at once, a subscriber or not. Soft bounces are scored on
        the subscriber (see SOFT_BOUNCE_WINDOW); for an address not on the list they are
        not counted. `message` is the bounce message's key: a soft bounce of the same
        address in the same message is scored once, however often it is read.
        """
        if hard:
            await self.suppress(email, SuppressionReason.HARD_BOUNCE)
            return True
        email_hash = self._hash(normalise(email))
        now = self._now()
        async with write_transaction(self._engine) as conn:
            if await q.is_suppressed(conn, email_hash):
                return True
            row = await q.find_by_hash(conn, email_hash)
            if row is None:
                return False
            if message and not await q.count_bounce_once(conn, message, email_hash, now):
                return False
            recent = (
                row.last_bounce_at is not None and now - row.last_bounce_at <= SOFT_BOUNCE_WINDOW
            )
            score = (row.bounce_score if recent else 0) + 1
            await conn.execute(
                update(s).where(s.c.id == row.id).values(bounce_score=score, last_bounce_at=now)
            )
            if score < SOFT_BOUNCE_THRESHOLD:
                return False
            await q.add_suppression(conn, email_hash, SuppressionReason.SOFT_BOUNCES, now)
            await q.cancel_queued(conn, row.id, self._channels, now, "suppressed: soft-bounces")
            return True

    async def bounce_counted(self, message: str) -> bool:
        """Whether a soft bounce in the message with this key was scored already."""
        async with self._engine.connect() as conn:
            return await q.bounce_counted(conn, message)

    async def is_suppressed(self, email: str) -> bool:
        """Whether this address may never be mailed (raises InvalidAddress for non-addresses)."""
        email_hash = self._hash(normalise(email))
        async with self._engine.connect() as conn:
            return await q.is_suppressed(conn, email_hash)

"""Review requests, approvals, edits, held publications and withdrawals in the store."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from broadcaster.staff.tables import (
    ReviewAction,
    campaign_edits,
    held_publications,
    reviews,
    users,
    withdrawals,
)
from broadcaster.store.engine import insert_or_ignore, write_transaction


@dataclass(frozen=True)
class Review:
    id: int
    campaign_id: str
    revision: str
    action: ReviewAction
    user_id: int | None
    user_name: str | None
    comment: str | None
    at: datetime


@dataclass(frozen=True)
class HeldPublication:
    id: int
    campaign_id: str
    revision: str
    schedule_id: str
    fire_time: datetime
    channels: tuple[str, ...]
    created_at: datetime
    released_publication_id: int | None


@dataclass(frozen=True)
class Withdrawal:
    campaign_id: str
    revision: str
    user_name: str | None
    reason: str
    at: datetime


class ReviewStore:
    """What staff did to campaign revisions (append-only apart from releasing a hold and
    taking back an emergency release that published nothing)."""

    def __init__(
        self, engine: AsyncEngine, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self.engine = engine
        self.clock = clock

    async def record_edit(self, campaign_id: str, revision: str, user_id: int | None) -> None:
        """Note who saved the files that make `revision` (one of its editors)."""
        async with write_transaction(self.engine) as conn:
            await conn.execute(
                insert(campaign_edits).values(
                    campaign_id=campaign_id, revision=revision, user_id=user_id, at=self.clock()
                )
            )

    async def editors(self, campaign_id: str, revision: str) -> frozenset[int]:
        """Everyone who ever saved files making this exact revision (a save that changed
        nothing included): none of them may approve it. Empty when it was edited outside
        the admin UI and API."""
        e = campaign_edits.c
        query = (
            select(e.user_id)
            .distinct()
            .where(e.campaign_id == campaign_id, e.revision == revision, e.user_id.is_not(None))
        )
        async with self.engine.connect() as conn:
            found = (await conn.execute(query)).scalars().all()
        return frozenset(found)

    async def add(
        self,
        campaign_id: str,
        revision: str,
        action: ReviewAction,
        user_id: int | None,
        comment: str | None,
    ) -> int:
        """Append a review action; its id."""
        async with write_transaction(self.engine) as conn:
            result = await conn.execute(
                insert(reviews)
                .values(
                    campaign_id=campaign_id,
                    revision=revision,
                    action=action,
                    user_id=user_id,
                    comment=comment,
                    at=self.clock(),
                )
                .returning(reviews.c.id)
            )
            return int(result.scalar_one())

    async def retract_emergency(self, review_id: int) -> None:
        """Take back an emergency release whose publish was refused (nothing went out)."""
        r = reviews.c
        async with write_transaction(self.engine) as conn:
            await conn.execute(
                delete(reviews).where(r.id == review_id, r.action == ReviewAction.EMERGENCY)
            )

    async def of(self, campaign_id: str, revision: str | None = None) -> list[Review]:
        """Review actions on a campaign (one revision, or all), oldest first."""
        r = reviews.c
        query = (
            select(reviews, users.c.name.label("user_name"))
            .outerjoin(users, users.c.id == r.user_id)
            .where(r.campaign_id == campaign_id)
            .order_by(r.id)
        )
        if revision is not None:
            query = query.where(r.revision == revision)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [
            Review(
                id=row.id,
                campaign_id=row.campaign_id,
                revision=row.revision,
                action=ReviewAction(row.action),
                user_id=row.user_id,
                user_name=row.user_name,
                comment=row.comment,
                at=row.at,
            )
            for row in rows
        ]

    async def emergencies(self, limit: int = 100) -> list[Review]:
        """Emergency publishes, newest first: each is reviewed afterwards."""
        r = reviews.c
        query = (
            select(reviews, users.c.name.label("user_name"))
            .outerjoin(users, users.c.id == r.user_id)
            .where(r.action == ReviewAction.EMERGENCY)
            .order_by(r.id.desc())
            .limit(limit)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [
            Review(
                row.id,
                row.campaign_id,
                row.revision,
                ReviewAction(row.action),
                row.user_id,
                row.user_name,
                row.comment,
                row.at,
            )
            for row in rows
        ]

    async def reviewer_of(self, emergency: Review) -> str | None:
        """Who approved an emergency publish's revision afterwards (another approver), if
        anyone did yet."""
        later = [
            r.user_name or ""
            for r in await self.of(emergency.campaign_id, emergency.revision)
            if r.action == ReviewAction.APPROVED
            and r.id > emergency.id
            and r.user_id != emergency.user_id
        ]
        return later[0] if later else None

    # --- held publications ----------------------------------------------------------------

    async def hold(
        self,
        campaign_id: str,
        revision: str,
        schedule_id: str,
        fire_time: datetime,
        channels: Sequence[str],
    ) -> bool:
        """Record a firing held for approval; False when that firing is held already."""
        h = held_publications
        statement = insert_or_ignore(self.engine.dialect, h, "schedule_id", "fire_time")
        async with write_transaction(self.engine) as conn:
            result = await conn.execute(
                statement.returning(h.c.id),
                {
                    "campaign_id": campaign_id,
                    "revision": revision,
                    "schedule_id": schedule_id,
                    "fire_time": fire_time,
                    "channels": list(channels),
                    "created_at": self.clock(),
                },
            )
            return result.first() is not None

    async def held(self, *, pending_only: bool = False, limit: int = 100) -> list[HeldPublication]:
        """HeldPublication firings, newest first."""
        h = held_publications.c
        query = select(held_publications).order_by(h.id.desc()).limit(limit)
        if pending_only:
            query = query.where(h.released_publication_id.is_(None), h.released_at.is_(None))
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [
            HeldPublication(
                row.id,
                row.campaign_id,
                row.revision,
                row.schedule_id,
                row.fire_time,
                tuple(row.channels),
                row.created_at,
                row.released_publication_id,
            )
            for row in rows
        ]

    async def mark_released(self, held_id: int, publication_id: int) -> None:
        """Note that a held firing went out as `publication_id`."""
        h = held_publications.c
        async with write_transaction(self.engine) as conn:
            await conn.execute(
                update(held_publications)
                .where(h.id == held_id)
                .values(released_publication_id=publication_id, released_at=self.clock())
            )

    async def last_held(self, schedule_id: str) -> datetime | None:
        """The latest held firing of a schedule (a firing that happened, for catch-up)."""
        h = held_publications.c
        query = select(func.max(h.fire_time)).where(h.schedule_id == schedule_id)
        async with self.engine.connect() as conn:
            latest: datetime | None = (await conn.execute(query)).scalar_one()
        return latest

    # --- withdrawals ----------------------------------------------------------------------

    async def withdraw(
        self, campaign_id: str, revision: str, user_id: int | None, reason: str
    ) -> None:
        """Record that a campaign was withdrawn from every channel."""
        async with write_transaction(self.engine) as conn:
            await conn.execute(
                insert(withdrawals).values(
                    campaign_id=campaign_id,
                    revision=revision,
                    user_id=user_id,
                    reason=reason,
                    at=self.clock(),
                )
            )

    async def latest_withdrawal(self) -> int | None:
        """The id of the newest withdrawal (other processes rebuild when it changes)."""
        async with self.engine.connect() as conn:
            latest: int | None = (
                await conn.execute(select(func.max(withdrawals.c.id)))
            ).scalar_one()
        return latest

    async def withdrawals(self) -> dict[str, Withdrawal]:
        """The latest withdrawal of each campaign."""
        w = withdrawals.c
        query = (
            select(withdrawals, users.c.name.label("user_name"))
            .outerjoin(users, users.c.id == w.user_id)
            .order_by(w.id)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return {
            row.campaign_id: Withdrawal(
                row.campaign_id, row.revision, row.user_name, row.reason, row.at
            )
            for row in rows
        }

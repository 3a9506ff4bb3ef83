"""The audit log: append-only; who did what, when, to which campaign revision."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from broadcaster.staff.tables import audit_log
from broadcaster.store.engine import write_transaction


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    campaign_id: str | None
    revision: str | None
    detail: dict[str, Any]
    ip: str | None


class AuditLog:
    """Records actions; never updates or deletes an entry."""

    def __init__(
        self, engine: AsyncEngine, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self.engine = engine
        self.clock = clock

    async def record(
        self,
        actor: str,
        action: str,
        *,
        campaign_id: str | None = None,
        revision: str | None = None,
        detail: Mapping[str, Any] | None = None,
        ip: str | None = None,
        conn: AsyncConnection | None = None,
    ) -> None:
        """Append one entry (inside `conn`'s transaction when given)."""
        values = {
            "at": self.clock(),
            "actor": actor[:80],
            "action": action,
            "campaign_id": campaign_id,
            "revision": revision,
            "detail": json.dumps(dict(detail or {}), ensure_ascii=False, sort_keys=True),
            "ip": ip,
        }
        if conn is not None:
            await conn.execute(insert(audit_log).values(**values))
            return
        async with write_transaction(self.engine) as own:
            await own.execute(insert(audit_log).values(**values))

    async def entries(
        self,
        *,
        limit: int = 200,
        campaign_id: str | None = None,
        action: str | None = None,
        actor: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[AuditEntry]:
        """The newest entries first; `since` and `until` bound `at` (until excluded)."""
        a = audit_log.c
        query = select(audit_log).order_by(a.id.desc()).limit(limit)
        if campaign_id:
            query = query.where(a.campaign_id == campaign_id)
        if action:
            query = query.where(a.action == action)
        if actor:
            query = query.where(a.actor == actor)
        if since is not None:
            query = query.where(a.at >= since)
        if until is not None:
            query = query.where(a.at < until)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [
            AuditEntry(
                id=r.id,
                at=r.at,
                actor=r.actor,
                action=r.action,
                campaign_id=r.campaign_id,
                revision=r.revision,
                detail=json.loads(r.detail) if r.detail else {},
                ip=r.ip,
            )
            for r in rows
        ]

    async def choices(self) -> tuple[list[str], list[str]]:
        """Every actor and every campaign named in the log, sorted (for filters)."""
        a = audit_log.c
        async with self.engine.connect() as conn:
            actors = (await conn.execute(select(a.actor).distinct())).scalars().all()
            campaigns = (
                (
                    await conn.execute(
                        select(a.campaign_id).distinct().where(a.campaign_id.is_not(None))
                    )
                )
                .scalars()
                .all()
            )
        return sorted(actors), sorted(c for c in campaigns if c)

    async def publishers(self, limit: int = 1000) -> dict[int, str]:
        """Who created each of the newest publications: publication id -> actor."""
        found: dict[int, str] = {}
        for entry in await self.entries(limit=limit, action="publication.created"):
            number = entry.detail.get("publication")
            if isinstance(number, int):
                found.setdefault(number, entry.actor)
        return found

    async def csv(self, limit: int = 100_000) -> str:
        """Every entry (oldest first) as CSV: id,at,actor,action,campaign,revision,ip,detail."""
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["id", "at", "actor", "action", "campaign", "revision", "ip", "detail"])
        for e in reversed(await self.entries(limit=limit)):
            writer.writerow(
                [
                    e.id,
                    e.at.isoformat(),
                    safe_cell(e.actor),
                    e.action,
                    safe_cell(e.campaign_id or ""),
                    e.revision or "",
                    e.ip or "",
                    safe_cell(json.dumps(e.detail, ensure_ascii=False, sort_keys=True)),
                ]
            )
        return out.getvalue()


def safe_cell(value: str) -> str:
    """Keep spreadsheet programs from running a cell as a formula (CSV injection)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value

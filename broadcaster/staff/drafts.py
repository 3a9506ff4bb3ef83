"""Editor drafts: what someone typed in the campaign editor and has not saved yet.

One draft per person and campaign, replaced on every autosave. A save that arrives without
a session (it expired while they typed) is kept under a random token instead; signing in
again claims it for that person, who gets the editor back with their text. Unclaimed drafts
are forgotten after a day.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from broadcaster.staff.tables import editor_drafts
from broadcaster.store.engine import write_transaction

UNCLAIMED_FOR = timedelta(days=1)
MAX_UNCLAIMED = 500  # drafts kept without a session at once: anyone can post one
MAX_CHARS = 1_000_000  # a draft's fields, in characters


class DraftRefused(ValueError):
    """A draft too large, or too many kept without a session."""


Pairs = list[tuple[str, str]]


@dataclass(frozen=True)
class Draft:
    token: str
    campaign_id: str
    base_revision: str | None
    pairs: Pairs  # the posted form's fields, in order
    saved_at: datetime


def _draft(row: object) -> Draft:
    m = row._mapping  # type: ignore[attr-defined]
    pairs = [(str(k), str(v)) for k, v in json.loads(m["fields"])]
    return Draft(m["token"], m["campaign_id"], m["base_revision"], pairs, m["saved_at"])


class Drafts:
    """The drafts store."""

    def __init__(
        self, engine: AsyncEngine, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self.engine = engine
        self.clock = clock

    async def keep(
        self,
        user_id: int | None,
        campaign_id: str,
        base: str | None,
        pairs: Sequence[tuple[str, str]],
    ) -> str:
        """Keep a draft (replacing this person's last one for the campaign); its token."""
        token = secrets.token_urlsafe(32)
        now = self.clock()
        fields = json.dumps(list(pairs), ensure_ascii=False)
        if len(fields) > MAX_CHARS:
            raise DraftRefused(f"a draft is at most {MAX_CHARS} characters")
        async with write_transaction(self.engine) as conn:
            if user_id is None:
                unclaimed = editor_drafts.c.user_id.is_(None)
                await conn.execute(
                    delete(editor_drafts).where(
                        unclaimed, editor_drafts.c.saved_at < now - UNCLAIMED_FOR
                    )
                )
                count = select(func.count()).select_from(editor_drafts).where(unclaimed)
                if (await conn.execute(count)).scalar_one() >= MAX_UNCLAIMED:
                    raise DraftRefused("too many drafts are waiting for their authors to sign in")
            else:
                await conn.execute(delete(editor_drafts).where(self._of(user_id, campaign_id)))
            await conn.execute(
                editor_drafts.insert().values(
                    token=token,
                    user_id=user_id,
                    campaign_id=campaign_id,
                    base_revision=base or None,
                    fields=fields,
                    saved_at=now,
                )
            )
        return token

    @staticmethod
    def _of(user_id: int, campaign_id: str):  # type: ignore[no-untyped-def]
        return and_(editor_drafts.c.user_id == user_id, editor_drafts.c.campaign_id == campaign_id)

    async def mine(self, user_id: int, campaign_id: str) -> Draft | None:
        """This person's draft of the campaign, if any."""
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(select(editor_drafts).where(self._of(user_id, campaign_id)))
            ).first()
        return _draft(row) if row is not None else None

    async def claim(self, token: str, user_id: int) -> Draft | None:
        """Make an unclaimed draft (saved without a session) this person's; None if gone."""
        now = self.clock()
        async with write_transaction(self.engine) as conn:
            row = (
                await conn.execute(
                    select(editor_drafts).where(
                        editor_drafts.c.token == token,
                        editor_drafts.c.user_id.is_(None),
                        editor_drafts.c.saved_at >= now - UNCLAIMED_FOR,
                    )
                )
            ).first()
            if row is None:
                return None
            draft = _draft(row)
            await conn.execute(delete(editor_drafts).where(self._of(user_id, draft.campaign_id)))
            await conn.execute(
                update(editor_drafts).where(editor_drafts.c.token == token).values(user_id=user_id)
            )
        return draft

    async def discard(self, user_id: int, campaign_id: str) -> None:
        """Forget this person's draft of the campaign (it was saved, or thrown away)."""
        async with write_transaction(self.engine) as conn:
            await conn.execute(delete(editor_drafts).where(self._of(user_id, campaign_id)))

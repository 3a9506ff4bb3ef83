"""A lock held in the store, for work outside it that nodes must do one at a time.

Several nodes may share one workspace folder; a staff save (read the revision, compare,
write, rename) must not interleave with another node's. File locks are unreliable on
network file systems, so the lock is the database's: a PostgreSQL advisory lock, or on
SQLite the database's write lock (BEGIN IMMEDIATE), held until the block ends.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from broadcaster.store.engine import write_transaction

# PostgreSQL advisory lock key for writes to the workspace folder ("bcws").
WORKSPACE_LOCK = 0x62637773


@asynccontextmanager
async def workspace_lock(engine: AsyncEngine) -> AsyncIterator[None]:
    """Hold the workspace write lock of every node on this store while the block runs."""
    async with write_transaction(engine) as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": WORKSPACE_LOCK})
        else:  # BEGIN IMMEDIATE took the write lock as the transaction began
            await conn.execute(text("SELECT 1"))
        yield

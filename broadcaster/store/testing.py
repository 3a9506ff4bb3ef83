"""Scratch databases and a hand-moved clock for tests of anything that uses the store.

SQLite gets a file in a temp folder; PostgreSQL (when `BROADCASTER_TEST_DATABASE_URL`
is set) gets a fresh schema, dropped afterwards, so tests can run side by side on one
server.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import NullPool

from broadcaster.store.engine import create_engine

TEST_DATABASE_ENV = "BROADCASTER_TEST_DATABASE_URL"


@dataclass(frozen=True)
class ScratchDatabase:
    """An empty database; `options` go to every engine made for it (e.g. the schema)."""

    url: str
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def dialect(self) -> str:
        """`sqlite` or `postgresql`."""
        return self.url.split(":", 1)[0].split("+", 1)[0]

    def engine(self) -> AsyncEngine:
        """A new engine, with its own connection pool, on this database."""
        return create_engine(self.url, **self.options)


def sqlite_database(folder: Path) -> ScratchDatabase:
    """A SQLite database file in `folder` (created on first connect)."""
    return ScratchDatabase(f"sqlite+aiosqlite:///{folder / 'broadcaster.db'}")


def postgres_url() -> str | None:
    """The PostgreSQL server tests may use, or None when they should skip."""
    return os.environ.get(TEST_DATABASE_ENV) or None


@asynccontextmanager
async def postgres_database(url: str) -> AsyncIterator[ScratchDatabase]:
    """A fresh schema on the PostgreSQL server at `url`, dropped on exit."""
    schema = f"test_{uuid.uuid4().hex[:16]}"
    admin = create_engine(url, poolclass=NullPool)
    try:
        async with admin.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            yield ScratchDatabase(
                url, {"connect_args": {"server_settings": {"search_path": schema}}}
            )
        finally:
            async with admin.begin() as conn:
                await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        await admin.dispose()


class ManualClock:
    """A clock that stands still until a test moves it."""

    def __init__(self, now: datetime = datetime(2021, 7, 10, 1, 0, tzinfo=UTC)) -> None:
        self.now = now

    def __call__(self) -> datetime:
        """The current (fake) time."""
        return self.now

    def advance(self, delta: timedelta) -> None:
        """Move the clock forward by `delta`."""
        self.now += delta

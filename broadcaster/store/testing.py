"""Scratch databases and a hand-moved clock for tests of anything that uses the store.

SQLite gets a file in a temp folder; PostgreSQL (when `BROADCASTER_TEST_DATABASE_URL`
is set) gets a fresh schema (or, for code that only takes a URL, a fresh database), dropped
afterwards, so tests can run side by side on one server.
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

from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import NullPool

from broadcaster.store.engine import create_engine

TEST_DATABASE_ENV = "BROADCASTER_TEST_DATABASE_URL"
# Set (to anything but "" or "0") where PostgreSQL tests must run, never skip (CI).
REQUIRE_POSTGRES_ENV = "BROADCASTER_REQUIRE_POSTGRES"


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
    """The PostgreSQL server tests may use, or None when they should skip.

    With `BROADCASTER_REQUIRE_POSTGRES` set, a missing URL is an error instead, so a CI
    run whose PostgreSQL tests would all skip fails rather than passing silently.
    """
    url = os.environ.get(TEST_DATABASE_ENV) or None
    if url is None and os.environ.get(REQUIRE_POSTGRES_ENV, "") not in ("", "0"):
        raise RuntimeError(
            f"{REQUIRE_POSTGRES_ENV} is set but {TEST_DATABASE_ENV} is not: "
            "PostgreSQL tests must run here, e.g. with "
            f"{TEST_DATABASE_ENV}=postgresql+asyncpg://postgres@127.0.0.1:5432/test"
        )
    return url


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


@asynccontextmanager
async def postgres_fresh_database(url: str) -> AsyncIterator[str]:
    """A new, empty database on the server at `url`; yields its URL, dropped on exit.

    For code that only takes a URL (`serve` subprocesses, `open_service`), where a schema
    cannot be passed as an engine option. Connections still open at the end are closed.
    """
    name = f"test_{uuid.uuid4().hex[:16]}"
    parsed = make_url(url)
    admin = create_engine(parsed, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield parsed.set(database=name).render_as_string(hide_password=False)
        finally:
            async with admin.connect() as conn:
                await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
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

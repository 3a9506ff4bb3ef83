"""Engines and transactions that behave alike on SQLite (aiosqlite) and PostgreSQL (asyncpg)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Table, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Connection, Dialect, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.sql.dml import Insert

log = logging.getLogger(__name__)

T = TypeVar("T")

SQLITE_BUSY_TIMEOUT_MS = 5000

# Execution option read by the SQLite `begin` hook: which BEGIN to emit.
_SQLITE_BEGIN = "broadcaster_sqlite_begin"

_ASYNC_DRIVERS = {"sqlite": "aiosqlite", "postgresql": "asyncpg"}


def database_url(url: str | URL) -> URL:
    """Parse `url`, choosing the async driver when none is named (`sqlite://`, `postgresql://`)."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    driver = _ASYNC_DRIVERS.get(backend)
    if driver is None or parsed.drivername not in (backend, f"{backend}+{driver}"):
        raise ValueError(
            f"unsupported database URL {parsed.render_as_string(hide_password=True)!r}: "
            "use sqlite+aiosqlite:///PATH or postgresql+asyncpg://USER@HOST/DB"
        )
    return parsed.set(drivername=f"{backend}+{driver}")


def create_engine(url: str | URL, **options: Any) -> AsyncEngine:
    """An async engine for `url`; `options` go to `create_async_engine`.

    SQLite connections get WAL, a busy timeout and foreign keys, and SQLAlchemy (not the
    sqlite3 module) emits BEGIN so that `write_transaction` can ask for BEGIN IMMEDIATE.
    """
    parsed = database_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(parsed, **options)
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)
    return engine


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys=ON")
            # In WAL mode NORMAL survives process crashes; only an OS crash or power cut can
            # lose the last commits, which at-least-once delivery with dedup keys absorbs.
            # It doubles the rate of the one-transaction-per-outcome writes workers make.
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA journal_mode")
            if cursor.fetchone()[0] == "delete":
                try:
                    cursor.execute("PRAGMA journal_mode=WAL")
                except sqlite3.OperationalError as error:
                    # Fails at once, without waiting, while another connection holds a
                    # lock; WAL is a property of the file, so a later connection (or
                    # `use_wal`, run by `upgrade`) switches it.
                    log.debug("SQLite journal_mode=WAL deferred: %s", error)
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get(_SQLITE_BEGIN, "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")


async def use_wal(engine: AsyncEngine) -> None:
    """Put a SQLite database file in WAL mode, waiting out other connections' locks."""
    if engine.dialect.name != "sqlite":
        return
    async with engine.connect() as connection:
        driver = (await connection.get_raw_connection()).driver_connection  # aiosqlite's
        assert driver is not None
        for _ in range(SQLITE_BUSY_TIMEOUT_MS // 50):  # as long as a busy timeout
            try:
                cursor = await driver.execute("PRAGMA journal_mode=WAL")
                row = await cursor.fetchone()
                if row is not None and row[0] in ("wal", "memory"):
                    return
            except sqlite3.OperationalError as error:
                log.debug("SQLite journal_mode=WAL: %s; retrying", error)
            await asyncio.sleep(0.05)
    raise RuntimeError("could not switch the SQLite database to WAL mode: it stays locked")


class _Writers:
    """This process's writers of one SQLite database, in turn (see `write_transaction`)."""

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.owner: asyncio.Task[Any] | None = None


# Per engine and event loop (an asyncio.Lock belongs to the loop that first uses it).
_WRITERS: weakref.WeakKeyDictionary[
    AsyncEngine, weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Writers]
] = weakref.WeakKeyDictionary()


@asynccontextmanager
async def _in_turn(engine: AsyncEngine) -> AsyncIterator[None]:
    """Wait for this process's other writers of a SQLite database, first come first served.

    SQLite admits one writer at a time, and a writer that finds the lock taken sleeps in
    the busy handler (1, 2, 5, 10 ms and longer between tries) and can miss the moment it
    is free: with a few workers claiming at once, the one with work waited tens of
    milliseconds for a lock that was idle. Queued here, each starts as the last commits.
    Other processes still meet at SQLite's lock. A task already writing is not queued
    again (SQLite answers it as before).
    """
    if engine.dialect.name != "sqlite":
        yield
        return
    per_loop = _WRITERS.setdefault(engine, weakref.WeakKeyDictionary())
    writers = per_loop.setdefault(asyncio.get_running_loop(), _Writers())
    task = asyncio.current_task()
    if task is not None and writers.owner is task:
        yield
        return
    async with writers.lock:
        writers.owner = task
        try:
            yield
        finally:
            writers.owner = None


@asynccontextmanager
async def write_transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A transaction that writes; commits on success.

    On SQLite it starts with BEGIN IMMEDIATE: writers queue on the busy timeout for the one
    write lock up front, instead of failing when a read lock cannot be upgraded; writers
    in this process queue in order before that (see `_in_turn`).
    """
    async with _in_turn(engine), engine.connect() as connection:
        await connection.execution_options(**{_SQLITE_BEGIN: "IMMEDIATE"})
        async with connection.begin():
            yield connection


async def sqlite_write_in_one_step(
    engine: AsyncEngine, work: Callable[[sqlite3.Connection], T]
) -> T:
    """A SQLite write transaction done in one step on its connection's own thread:
    BEGIN IMMEDIATE, `work(connection)`, COMMIT (ROLLBACK when `work` raises), in turn with
    this process's other writers.

    Through SQLAlchemy on aiosqlite every statement is three trips to that thread and
    back (cursor, execute, close), and each trip waits for the GIL while the event loop is
    busy: a 20-row write of two statements took about 10 ms that way, and a fan-out that
    records as it goes writes a hundred times a second. This is one trip. It uses
    aiosqlite's queue to its thread (`_execute`, `_conn`), pinned in requirements/test.lock
    and exercised by every fan-out test. `work` runs on that thread: plain sqlite3 only.
    """
    if engine.dialect.name != "sqlite":
        raise ValueError("sqlite_write_in_one_step needs a SQLite engine")
    async with _in_turn(engine), engine.connect() as connection:
        raw = await connection.get_raw_connection()
        driver = raw.driver_connection  # aiosqlite.Connection

        def step() -> T:
            db: sqlite3.Connection = driver._conn  # type: ignore[union-attr]
            db.execute("BEGIN IMMEDIATE")
            try:
                result = work(db)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
            return result

        result: T = await driver._execute(step)  # type: ignore[union-attr]
        return result


# After this many new rows in a table, PostgreSQL's row estimates for it are refreshed at
# once (`refresh_statistics`) instead of when autovacuum gets to it.
ANALYZE_AFTER = 10_000


async def refresh_statistics(engine: AsyncEngine, *tables: Table) -> None:
    """Update the planner's statistics for `tables` now (PostgreSQL; nothing on SQLite).

    After a bulk write, until autovacuum analyzes a table, the planner still plans for
    the old row counts: it sorted the whole outbox for every claim, scanned every
    subscriber to find a thousand by id after a first import, and kept (in each
    connection's prepared statements) plans that read all of a table that was nearly
    empty when they were made. An ANALYZE also makes those statements plan again.
    """
    if engine.dialect.name == "postgresql":
        async with engine.connect() as conn:
            names = ", ".join(conn.dialect.identifier_preparer.format_table(t) for t in tables)
            await conn.execute(text(f"ANALYZE {names}"))
            await conn.commit()


def insert_or_ignore(dialect: Dialect, table: Table, *conflict_columns: str) -> Insert:
    """INSERT .. ON CONFLICT (conflict_columns) DO NOTHING for this dialect."""
    if dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=conflict_columns)
    if dialect.name == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing(index_elements=conflict_columns)
    raise ValueError(f"unsupported database dialect {dialect.name!r}")


async def dispose_engine(engine: AsyncEngine, wait: float = 5.0) -> None:
    """Close the engine's connections, after any close SQLAlchemy started on its own.

    When a task is cancelled in the middle of a query, SQLAlchemy invalidates that
    connection and closes it gracefully in a shielded task of its own. Disposing the
    engine (and then closing the event loop) while that task is pending leaves an
    aiosqlite connection thread behind, which can hang the process at exit. So wait up
    to `wait` seconds for such closes first.
    """
    current = asyncio.current_task()
    closing = [
        task
        for task in asyncio.all_tasks()
        if task is not current
        and not task.done()
        and getattr(task.get_coro(), "__qualname__", "").endswith("_terminate_graceful_close")
    ]
    if closing:
        await asyncio.wait(closing, timeout=wait)
    await engine.dispose()


# /healthz: how long the store may take to answer, and to let a write through.
HEALTH_TIMEOUT = 2.0
_PROBE_BUSY_TIMEOUT_MS = 1000
# A write that changes nothing: it needs the write lock (SQLite) or a writable transaction
# (PostgreSQL), and is rolled back. alembic_version is the store's own table.
# A SQLite file on a disk with less free than this is reported as unable to write: the
# probe changes no page, so it cannot meet a full disk itself.
MIN_FREE_BYTES = 1 << 20
_WRITE_PROBE = "UPDATE alembic_version SET version_num = version_num WHERE 1 = 0"


@dataclass(frozen=True)
class StoreHealth:
    """What /healthz says of the store: `store` is ok, not answering or cannot write."""

    store: str
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.store == "ok"


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return f"no answer within {HEALTH_TIMEOUT:g} s"
    original = getattr(exc, "orig", None) or exc
    return f"{type(original).__name__}: {original}".splitlines()[0]


class _CannotWrite(Exception):
    """The store answered a query but refused the write probe."""


async def _write_probe(engine: AsyncEngine) -> None:
    """The write that changes nothing, rolled back; in turn with this process's writers."""
    async with _in_turn(engine), engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        async with conn.begin() as transaction:
            if sqlite:  # wait less than writers do: a health check answers quickly
                await conn.exec_driver_sql(f"PRAGMA busy_timeout={_PROBE_BUSY_TIMEOUT_MS}")
            try:
                await conn.exec_driver_sql(_WRITE_PROBE)
            except Exception as exc:
                raise _CannotWrite(_reason(exc)) from exc
            finally:
                if sqlite:
                    with contextlib.suppress(Exception):
                        await conn.exec_driver_sql(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            await transaction.rollback()


def _disk_full(engine: AsyncEngine) -> str | None:
    """What is wrong when a SQLite database file's disk has (almost) no space left."""
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    try:
        stats = os.statvfs(Path(database).parent)
    except OSError:
        return None
    free = stats.f_bavail * stats.f_frsize
    if free >= MIN_FREE_BYTES:
        return None
    return f"No space left on device: {free // 1024} KiB free on the disk that holds {database}"


async def store_health(engine: AsyncEngine) -> StoreHealth:
    """Whether the store answers a query and lets a write through, within two seconds.

    The write changes no row and is rolled back, so a health check every second costs the
    store a lock taken and let go: on SQLite it waits its turn with this process's writers,
    then at most a second for other processes'.
    """
    answered = False
    try:
        async with asyncio.timeout(HEALTH_TIMEOUT):
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            answered = True
            await _write_probe(engine)
    except Exception as exc:
        if not answered:
            log.warning("health check: the store does not answer", exc_info=True)
            return StoreHealth("not answering", _reason(exc))
        reason = str(exc) if isinstance(exc, _CannotWrite) else _reason(exc)
        log.warning("health check: the store cannot write: %s", reason)
        return StoreHealth("cannot write", reason)
    full = _disk_full(engine)
    if full is not None:
        log.warning("health check: the store cannot write: %s", full)
        return StoreHealth("cannot write", full)
    return StoreHealth("ok")

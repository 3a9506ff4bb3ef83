"""Backing up and restoring the store: SQLite's online backup API, PostgreSQL's pg_dump.

A SQLite backup is one consistent snapshot taken while `serve` keeps writing (WAL mode
lets it), copied into a new file that then takes FILE's name, so FILE is never half
written. A restore copies a backup back into the database (stop `serve` first) and then
applies any migration newer than the backup. Work that was not delivered when the backup
was taken is delivered again after a restore (its lease is long gone); what was recorded
before it is all there. PostgreSQL is backed up with its own tools, `pg_dump` and
`pg_restore`, in their custom format.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL

from broadcaster.store.engine import database_url


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class Store:
    """Where the store is: a SQLite file, or a PostgreSQL database."""

    url: URL

    @classmethod
    def parse(cls, url: str) -> Store:
        """The store behind a BROADCASTER_DATABASE_URL."""
        return cls(database_url(url))

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    @property
    def sqlite_path(self) -> Path:
        """The SQLite file (BackupError for an in-memory database)."""
        if not self.url.database or self.url.database == ":memory:":
            raise BackupError("an in-memory SQLite database has nothing to back up")
        return Path(self.url.database)

    def libpq_url(self) -> str:
        """The PostgreSQL URL as pg_dump and psql take it, without the password."""
        url = self.url
        plain = URL.create(
            "postgresql", url.username, None, url.host, url.port, url.database, url.query
        )
        return plain.render_as_string(hide_password=False)

    def libpq_environ(self, environ: Mapping[str, str]) -> dict[str, str]:
        """`environ` with the password as PGPASSWORD (kept out of the process list)."""
        env = dict(environ)
        if self.url.password:
            env["PGPASSWORD"] = str(self.url.password)
        return env


def _is_broadcaster_sqlite(path: Path) -> bool:
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            found = db.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
            ).fetchone()
    except sqlite3.DatabaseError:
        return False
    return found is not None


def backup_sqlite(source: Path, target: Path) -> int:
    """Copy the live database `source` into `target` (replaced atomically); its size."""
    if not source.exists():
        raise BackupError(f"{source}: no database here yet (nothing to back up)")
    if target.resolve() == source.resolve():
        raise BackupError(f"{target} is the database itself: name another file")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        with (
            contextlib.closing(sqlite3.connect(source, timeout=30)) as live,
            contextlib.closing(sqlite3.connect(partial)) as copy,
        ):
            # All pages in one step, under one read transaction: a consistent snapshot,
            # while writers carry on (stepwise copies restart on every foreign write).
            live.backup(copy, pages=-1)
            copy.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target.stat().st_size


def restore_sqlite(backup: Path, target: Path) -> None:
    """Copy the backup `backup` into the database `target` (created when missing)."""
    if not backup.is_file():
        raise BackupError(f"{backup}: no such file")
    if not _is_broadcaster_sqlite(backup):
        raise BackupError(f"{backup} is not a backup of a Broadcaster SQLite database")
    target.parent.mkdir(parents=True, exist_ok=True)
    with (
        contextlib.closing(sqlite3.connect(backup)) as source,
        contextlib.closing(sqlite3.connect(target, timeout=30)) as live,
    ):
        source.backup(live, pages=-1)


def pg_tool(name: str) -> str | None:
    """The path of a PostgreSQL client program, when it is installed."""
    return shutil.which(name)


def pg_dump_command(store: Store, target: Path) -> list[str]:
    """What backs a PostgreSQL store up into `target` (custom format, for pg_restore)."""
    return ["pg_dump", "--format=custom", "--no-owner", f"--file={target}", store.libpq_url()]


def pg_restore_command(store: Store, backup: Path) -> list[str]:
    """What restores `backup` (pg_dump's custom format) into a PostgreSQL store."""
    return [
        "pg_restore",
        "--clean",
        "--if-exists",
        "--no-owner",
        "--single-transaction",
        f"--dbname={store.libpq_url()}",
        str(backup),
    ]


async def run_pg_tool(command: list[str], environ: Mapping[str, str]) -> None:
    """Run pg_dump or pg_restore; BackupError with its own words when it fails."""
    program = pg_tool(command[0])
    if program is None:
        raise BackupError(f"{command[0]} is not installed")
    process = await asyncio.create_subprocess_exec(
        program,
        *command[1:],
        env=dict(environ),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await process.communicate()
    if process.returncode != 0:
        said = err.decode(errors="replace").strip() or f"exit status {process.returncode}"
        raise BackupError(f"{command[0]} failed: {said}")


async def backup_postgres(store: Store, target: Path, environ: Mapping[str, str]) -> int:
    """pg_dump the store into `target` (replaced only once the dump is complete); its size."""
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    await asyncio.to_thread(target.parent.mkdir, parents=True, exist_ok=True)
    try:
        await run_pg_tool(pg_dump_command(store, partial), store.libpq_environ(environ))
        await asyncio.to_thread(os.replace, partial, target)
    finally:
        await asyncio.to_thread(partial.unlink, missing_ok=True)
    return (await asyncio.to_thread(target.stat)).st_size


async def restore_postgres(store: Store, backup: Path, environ: Mapping[str, str]) -> None:
    """pg_restore `backup` into the store, in one transaction."""
    await run_pg_tool(pg_restore_command(store, backup), store.libpq_environ(environ))

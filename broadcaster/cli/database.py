"""`broadcaster db ...`: migrations, backups and restores of the store (the work is in
`broadcaster.store`)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from broadcaster.cli.common import root_option as _root_option
from broadcaster.cli.common import run as _run
from broadcaster.cli.common import settings_for as _settings
from broadcaster.cli.progress import Meter
from broadcaster.settings import Settings
from broadcaster.store import create_engine, dispose_engine, upgrade_engine
from broadcaster.store.backup import (
    BackupError,
    Store,
    backup_postgres,
    backup_sqlite,
    pg_dump_command,
    pg_restore_command,
    pg_tool,
    restore_postgres,
    restore_sqlite,
)
from broadcaster.store.migrate import pending_migrations


@click.group("db")
def database() -> None:
    """The store: its schema, backups and restores."""


async def upgrade_with_progress(settings: Settings) -> int:
    """Apply the store's migrations, one step of the meter each; how many were applied."""
    engine = create_engine(settings.database_url)
    try:
        pending = await pending_migrations(engine)
        with Meter("migrations", pending) as meter:
            await upgrade_engine(engine, on_step=meter.advance)
        return pending
    finally:
        await dispose_engine(engine)


@database.command("upgrade")
@_root_option
def db_upgrade(root: Path) -> None:
    """Apply migrations to BROADCASTER_DATABASE_URL (serve does this on start too)."""
    settings = _settings(root)
    applied = _run(upgrade_with_progress(settings), settings)
    done = f"{applied} migration{'s' if applied != 1 else ''} applied" if applied else "nothing"
    click.echo(f"database is up to date ({done}): {settings.database_url}")


def _store(settings: Settings) -> Store:
    try:
        return Store.parse(settings.database_url)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


def _pg_guidance(what: str, command: list[str]) -> None:
    click.echo(
        f"{command[0]} is not installed here: install the PostgreSQL client "
        f"(Debian: apt-get install postgresql-client) and run this command again, or {what} "
        f"on a host that has it:\n  {' '.join(command)}",
        err=True,
    )
    sys.exit(1)


@database.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@_root_option
def db_backup(file: Path, root: Path) -> None:
    """Back the store up into FILE while `serve` keeps running.

    SQLite: an online backup (SQLite's backup API) of one consistent moment, written to a
    new file that then replaces FILE. PostgreSQL: pg_dump in its custom format (for
    `db restore`), or the command to run when pg_dump is not installed.
    """
    settings = _settings(root)
    store = _store(settings)
    try:
        if store.is_sqlite:
            size = backup_sqlite(store.sqlite_path, file)
            click.echo(f"backed up {store.sqlite_path} to {file} ({size:,} bytes)")
            return
        if pg_tool("pg_dump") is None:
            _pg_guidance("take the backup", pg_dump_command(store, file))
        size = _run(backup_postgres(store, file, settings.environ), settings)
    except (BackupError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"backed up {store.libpq_url()} to {file} ({size:,} bytes)")


@database.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask before replacing the store's contents.")
@_root_option
def db_restore(file: Path, yes: bool, root: Path) -> None:
    """Replace the store's contents with the backup FILE, then apply newer migrations.

    Stop `serve` first (every node, with several). Whatever was not delivered when the
    backup was taken is delivered again once `serve` runs; what the backup recorded stays.
    """
    settings = _settings(root)
    store = _store(settings)
    where = store.sqlite_path if store.is_sqlite else store.libpq_url()
    if not yes:
        click.confirm(
            f"replace everything in {where} with {file}? (stop `serve` first)", abort=True
        )
    try:
        if store.is_sqlite:
            restore_sqlite(file, store.sqlite_path)
        else:
            if pg_tool("pg_restore") is None:
                _pg_guidance("restore it", pg_restore_command(store, file))
            _run(restore_postgres(store, file, settings.environ), settings)
    except (BackupError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    _run(upgrade_with_progress(settings), settings)
    click.echo(f"restored {file} into {where}; start `broadcaster serve` to deliver the rest")

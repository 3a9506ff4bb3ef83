"""Alembic migrations, run programmatically (no alembic.ini needed).

To write a new migration from a source checkout::

    from alembic import command
    from broadcaster.store.migrate import alembic_config
    command.revision(alembic_config("sqlite+aiosqlite:///var/dev.db"), "what changed",
                     autogenerate=True)
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from broadcaster.store.engine import create_engine, use_wal, write_transaction

if TYPE_CHECKING:
    from alembic.config import Config

# Alembic (with Mako and Pygments behind it) is imported only where a migration is looked
# at or run: a worker or a fan-out that never migrates does not carry its ~10 MB.

MIGRATIONS = Path(__file__).with_name("migrations")

# PostgreSQL advisory lock key ("bcst"): processes starting together upgrade one at a time.
_UPGRADE_LOCK = 0x62637374


def alembic_config(url: str | None = None) -> Config:
    """An Alembic config pointing at the packaged migrations (and at `url`, for the CLI)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str | None:
    """The newest migration shipped with this version of Broadcaster."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def current_revision(engine: AsyncEngine) -> str | None:
    """The migration the database is at; None for an empty database."""
    from alembic.runtime.migration import MigrationContext

    async with engine.connect() as connection:
        return await connection.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )


async def pending_migrations(engine: AsyncEngine) -> int:
    """How many migrations `upgrade_engine` would apply to the database behind `engine`."""
    from alembic.script import ScriptDirectory

    current = await current_revision(engine)
    script = ScriptDirectory.from_config(alembic_config())
    return len(list(script.iterate_revisions("heads", current or "base")))


async def upgrade(url: str, revision: str = "head", **engine_options: Any) -> None:
    """Bring the database at `url` up to `revision`; a no-op when it is already there."""
    engine = create_engine(url, **engine_options)
    try:
        await upgrade_engine(engine, revision)
    finally:
        await engine.dispose()


async def upgrade_engine(
    engine: AsyncEngine, revision: str = "head", on_step: Callable[[], None] | None = None
) -> None:
    """Bring the database behind `engine` up to `revision`, in one transaction;
    `on_step()` after each migration applied."""
    config = alembic_config()
    if on_step is not None:
        config.attributes["on_version_apply"] = lambda **_: on_step()
    async with write_transaction(engine) as connection:
        if connection.dialect.name == "postgresql":
            await connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _UPGRADE_LOCK}
            )
        await connection.run_sync(_upgrade, config, revision)
    await use_wal(engine)


def _upgrade(connection: Connection, config: Config, revision: str) -> None:
    from alembic import command

    config.attributes["connection"] = connection
    command.upgrade(config, revision)

"""Alembic environment: migrate on the caller's connection, or open an async engine."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool

from broadcaster.store.engine import create_engine
from broadcaster.store.registry import metadata


def run_on(connection: Connection) -> None:
    """Run the migrations on an open (sync-facing) connection."""
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,  # SQLite cannot ALTER most things; batch mode copies tables
        compare_type=True,
        # Told of each migration applied (the progress of `db upgrade`).
        on_version_apply=context.config.attributes.get("on_version_apply"),
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_with_own_engine(url: str) -> None:
    """Open an async engine on `url` and run the migrations through it."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(run_on)
            await connection.commit()
    finally:
        await engine.dispose()


def main() -> None:
    """Entry point Alembic calls for every command."""
    config = context.config
    url = config.get_main_option("sqlalchemy.url")
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    connection = config.attributes.get("connection")
    if connection is not None:
        run_on(connection)
    elif url:
        asyncio.run(run_with_own_engine(url))
    else:
        raise RuntimeError("no database: pass a connection or set sqlalchemy.url")


main()

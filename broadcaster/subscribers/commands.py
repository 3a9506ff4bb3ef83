"""What the `subscribers import|export` commands do, apart from parsing arguments."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TextIO

from broadcaster.settings import Settings
from broadcaster.store import create_engine, dispose_engine, upgrade_engine
from broadcaster.subscribers.bulk import Imported, export_subscribers, import_subscribers
from broadcaster.subscribers.csvio import CsvSubscriber, write_subscribers


def _ignore(count: int) -> None:
    """No one is watching the progress."""


async def import_rows(
    settings: Settings,
    rows: Sequence[CsvSubscriber],
    *,
    confirmed: bool,
    note: str | None,
    advance: Callable[[int], None] = _ignore,
) -> Imported:
    """Import validated rows into the workspace's store (migrating it first); `advance` is
    told how many rows each batch handled."""
    secret = settings.secret_key
    engine = create_engine(settings.database_url)
    try:
        await upgrade_engine(engine)
        return await import_subscribers(
            engine, secret, rows, confirmed=confirmed, note=note, advance=advance
        )
    finally:
        await dispose_engine(engine)


async def export_rows(
    settings: Settings, out: TextIO, advance: Callable[[int], None] = _ignore
) -> int:
    """Write the pending and confirmed subscribers to `out` as CSV; returns how many
    (`advance` is told how many each batch wrote)."""
    engine = create_engine(settings.database_url)
    try:
        await upgrade_engine(engine)
        count = 0
        header = True
        async for batch in export_subscribers(engine):
            written = write_subscribers(batch, out, header=header)
            count += written
            advance(written)
            header = False
        if header:
            write_subscribers([], out)
        return count
    finally:
        await dispose_engine(engine)

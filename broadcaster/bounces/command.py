"""What `broadcaster bounces process` does, apart from parsing arguments."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from broadcaster.bounces.mailboxes import process_path
from broadcaster.bounces.process import BounceProcessor, Report
from broadcaster.bounces.verp import subscriber_reader
from broadcaster.settings import Settings
from broadcaster.store import create_engine, upgrade_engine
from broadcaster.store.engine import dispose_engine
from broadcaster.subscribers.store import SqlSubscriberStore


async def process_bounces(
    settings: Settings, path: Path, advance: Callable[[int], None] = lambda count: None
) -> Report:
    """Process the Maildir, mbox or message file at `path` against the workspace's store;
    `advance(1)` after each message."""
    secret = settings.secret_key
    engine = create_engine(settings.database_url)
    try:
        await upgrade_engine(engine)
        store = SqlSubscriberStore(engine, secret)
        return await process_path(path, BounceProcessor(store, subscriber_reader(secret)), advance)
    finally:
        await dispose_engine(engine)

"""What `broadcaster bounces process` does, apart from parsing arguments."""

from __future__ import annotations

from pathlib import Path

from ..settings import Settings
from ..store import create_engine, upgrade_engine
from ..store.engine import dispose_engine
from ..subscribers.store import SqlSubscriberStore
from .mailboxes import process_path
from .process import BounceProcessor, Report
from .verp import subscriber_reader


async def process_bounces(settings: Settings, path: Path) -> Report:
    """Process the Maildir, mbox or message file at `path` against the workspace's store."""
    secret = settings.secret_key
    engine = create_engine(settings.database_url)
    try:
        await upgrade_engine(engine)
        store = SqlSubscriberStore(engine, secret)
        return await process_path(path, BounceProcessor(store, subscriber_reader(secret)))
    finally:
        await dispose_engine(engine)

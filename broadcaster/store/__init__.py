"""The durable store: engines, the shared MetaData and migrations (SQLAlchemy Core, async).

The tables themselves belong to the wings that use them (`outbox`, `subscribers`,
`partners`, `staff`), declared on `schema.metadata`; `registry` gathers them all.
"""

from broadcaster.store.engine import (
    create_engine,
    database_url,
    dispose_engine,
    write_transaction,
)
from broadcaster.store.migrate import current_revision, head_revision, upgrade, upgrade_engine

__all__ = [
    "create_engine",
    "current_revision",
    "database_url",
    "dispose_engine",
    "head_revision",
    "upgrade",
    "upgrade_engine",
    "write_transaction",
]

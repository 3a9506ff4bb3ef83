"""The durable store: schema, engines and migrations (SQLAlchemy Core, async)."""

from broadcaster.store.engine import (
    create_engine,
    database_url,
    dispose_engine,
    write_transaction,
)
from broadcaster.store.migrate import current_revision, head_revision, upgrade, upgrade_engine
from broadcaster.store.tables import (
    AttemptOutcome,
    DeliveryStatus,
    FiringOutcome,
    PublicationKind,
    PublicationSource,
    PublicationStatus,
    metadata,
)

__all__ = [
    "AttemptOutcome",
    "DeliveryStatus",
    "FiringOutcome",
    "PublicationKind",
    "PublicationSource",
    "PublicationStatus",
    "create_engine",
    "current_revision",
    "database_url",
    "dispose_engine",
    "head_revision",
    "metadata",
    "upgrade",
    "upgrade_engine",
    "write_transaction",
]

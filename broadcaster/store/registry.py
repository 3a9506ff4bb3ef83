"""The whole schema: every wing's tables, registered on the shared MetaData.

Migrations (Alembic's env) and the test that compares them with the schema use this;
the wings themselves import only their own `tables.py`.
"""

from __future__ import annotations

import broadcaster.fanpages.tables
import broadcaster.outbox.tables
import broadcaster.partners.tables
import broadcaster.staff.tables
import broadcaster.subscribers.tables  # noqa: F401 - the imports register the tables
from broadcaster.store.schema import metadata

__all__ = ["metadata"]

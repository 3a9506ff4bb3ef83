"""The one MetaData every wing's tables are declared on, and the shared id column type.

Each wing owns its tables in its own `tables.py`; `broadcaster.store.registry` gathers
them for migrations. Migrations in `migrations/versions/` must produce exactly that
schema; a test compares them.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer, MetaData

# Named constraints keep their names stable across dialects and Alembic migrations.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite only auto-increments an INTEGER PRIMARY KEY.
Id = BigInteger().with_variant(Integer(), "sqlite")

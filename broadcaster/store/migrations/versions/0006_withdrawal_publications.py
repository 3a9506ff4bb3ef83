"""Publications say what they carry: a campaign revision, or its withdrawal to partners.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add publications.kind; every existing publication is a campaign revision."""
    # A plain ADD COLUMN on SQLite as well: publications is referenced with ON DELETE
    # CASCADE, so a batch copy (drop and recreate) of it is never an option.
    with op.batch_alter_table("publications", recreate="never") as batch:
        batch.add_column(
            sa.Column("kind", sa.String(16), nullable=False, server_default="publication")
        )


def downgrade() -> None:
    """Drop publications.kind."""
    with op.batch_alter_table("publications", recreate="never") as batch:
        batch.drop_column("kind")

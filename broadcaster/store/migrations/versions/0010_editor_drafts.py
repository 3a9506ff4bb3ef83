"""Editor drafts: unsaved text kept server-side, so an expired session loses nothing.

Revision ID: 0010
Revises: 0008
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)  # frozen copy of the type as of this revision


def upgrade() -> None:
    """Create editor_drafts."""
    op.create_table(
        "editor_drafts",
        sa.Column("token", sa.String(64), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("campaign_id", sa.String(200), nullable=False),
        sa.Column("base_revision", sa.String(128), nullable=True),
        sa.Column("fields", sa.Text(), nullable=False),
        sa.Column("saved_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_editor_drafts_user_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("token", name="pk_editor_drafts"),
    )
    op.create_index("ix_editor_drafts_user_campaign", "editor_drafts", ["user_id", "campaign_id"])


def downgrade() -> None:
    """Drop editor_drafts."""
    op.drop_index("ix_editor_drafts_user_campaign", table_name="editor_drafts")
    op.drop_table("editor_drafts")

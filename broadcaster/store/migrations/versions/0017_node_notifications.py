"""Tell every node when the website or feeds changed: on PostgreSQL, a website or feeds
delivery that goes out (recipient '', status 'delivered') and a withdrawal send
NOTIFY broadcaster 'public' (store/notify.py), so the other nodes rebuild at once instead
of polling. SQLite has no NOTIFY: nodes on it keep polling, and nothing is created.

Revision ID: 0017
Revises: 0014
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FUNCTION = """
CREATE OR REPLACE FUNCTION broadcaster_public_changed() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('broadcaster', 'public');
    RETURN NULL;
END;
$$ LANGUAGE plpgsql
"""

# Per row, but the WHEN clause keeps email deliveries (recipient <> '') out cheaply; NOTIFY
# folds identical payloads of one transaction into one.
DELIVERED = """
CREATE TRIGGER deliveries_public_delivered
AFTER UPDATE OF status ON deliveries
FOR EACH ROW
WHEN (NEW.recipient = '' AND NEW.status = 'delivered' AND OLD.status <> 'delivered')
EXECUTE FUNCTION broadcaster_public_changed()
"""

WITHDRAWN = """
CREATE TRIGGER withdrawals_public_withdrawn
AFTER INSERT ON withdrawals
FOR EACH STATEMENT
EXECUTE FUNCTION broadcaster_public_changed()
"""


def upgrade() -> None:
    """Create the NOTIFY function and its two triggers (PostgreSQL only)."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(FUNCTION)
    op.execute(DELIVERED)
    op.execute(WITHDRAWN)


def downgrade() -> None:
    """Drop the triggers and the function (PostgreSQL only)."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS withdrawals_public_withdrawn ON withdrawals")
    op.execute("DROP TRIGGER IF EXISTS deliveries_public_delivered ON deliveries")
    op.execute("DROP FUNCTION IF EXISTS broadcaster_public_changed()")

"""Alembic migration environment and versions for the Broadcaster store."""

"""The parts admin handlers work with, read from the app's typed keys (web/keys.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from broadcaster.channels import Channel
from broadcaster.outbox.outbox import Outbox
from broadcaster.outbox.workers import Workers
from broadcaster.partners.store import PartnerStore
from broadcaster.publishing.approval import Approvals
from broadcaster.publishing.live import Live
from broadcaster.publishing.publisher import Publisher
from broadcaster.publishing.scheduler import Scheduler
from broadcaster.settings import Settings
from broadcaster.staff.accounts import Accounts
from broadcaster.web.keys import (
    ACCOUNTS,
    APPROVALS,
    ENGINE,
    LIVE,
    OUTBOX,
    PARTNERS,
    PUBLISHER,
    REFRESH_PUBLIC,
    RELOAD,
    SCHEDULER,
    SETTINGS,
    WORKERS,
    Refresh,
    Reload,
)
from broadcaster.workspace.models import Workspace


@dataclass(frozen=True)
class Desk:
    """The parts staff actions work with (web/admin/desk.py), read from the app's keys."""

    settings: Settings
    live: Live
    engine: AsyncEngine
    outbox: Outbox
    accounts: Accounts
    approvals: Approvals
    publisher: Publisher
    scheduler: Scheduler | None
    reload: Reload
    refresh_public: Refresh

    @classmethod
    def of(cls, request: web.Request) -> Desk:
        """The desk of the app serving `request`."""
        app = request.config_dict
        return cls(
            app[SETTINGS],
            app[LIVE],
            app[ENGINE],
            app[OUTBOX],
            app[ACCOUNTS],
            app[APPROVALS],
            app[PUBLISHER],
            app.get(SCHEDULER),
            app[RELOAD],
            app[REFRESH_PUBLIC],
        )

    @property
    def workspace(self) -> Workspace:
        """The workspace in use."""
        return self.live.workspace

    @property
    def channels(self) -> Mapping[str, Channel]:
        """The channels built from it."""
        return self.live.channels


@dataclass(frozen=True)
class PartnerDesk:
    """The parts admins manage media partners with (web/admin/media.py), from the app's keys."""

    live: Live
    engine: AsyncEngine
    partners: PartnerStore
    outbox: Outbox
    workers: Workers
    approvals: Approvals

    @classmethod
    def of(cls, request: web.Request) -> PartnerDesk:
        """The partner desk of the app serving `request`."""
        app = request.config_dict
        return cls(app[LIVE], app[ENGINE], app[PARTNERS], app[OUTBOX], app[WORKERS], app[APPROVALS])

    @property
    def workspace(self) -> Workspace:
        """The workspace in use."""
        return self.live.workspace

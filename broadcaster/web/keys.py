"""The application keys shared by the public app and the admin sub-application.

Handlers read the parts they need through these typed keys, set once the service is open
(`expose`), not the whole `Service`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from broadcaster.outbox.outbox import Outbox
from broadcaster.outbox.workers import Workers
from broadcaster.partners.store import PartnerStore
from broadcaster.publishing.approval import Approvals
from broadcaster.publishing.live import Live
from broadcaster.publishing.publisher import Publisher
from broadcaster.publishing.scheduler import Scheduler
from broadcaster.settings import Settings
from broadcaster.site.static import StaticFiles
from broadcaster.staff.accounts import Accounts
from broadcaster.subscribers.confirmations import Confirmations
from broadcaster.subscribers.store import SqlSubscriberStore
from broadcaster.subscribers.tokens import SignedTokens
from broadcaster.web.metrics import Metrics

# A coroutine, not just an awaitable: SIGHUP runs it as a task.
Reload = Callable[[], Coroutine[Any, Any, bool]]
Refresh = Callable[[], Awaitable[None]]
Counts = Callable[[], Awaitable[dict[tuple[str, str], int]]]

STATIC = web.AppKey("static", StaticFiles)
SETTINGS = web.AppKey("settings", Settings)
# The workspace in use and the channels built from it (a reload replaces them).
LIVE = web.AppKey("live", Live)
ENGINE = web.AppKey("engine", AsyncEngine)
OUTBOX = web.AppKey("outbox", Outbox)
WORKERS = web.AppKey("workers", Workers)
PUBLISHER = web.AppKey("publisher", Publisher)
METRICS = web.AppKey("metrics", Metrics)
SUBSCRIBERS = web.AppKey("subscribers", SqlSubscriberStore)
TOKENS = web.AppKey("tokens", SignedTokens)
CONFIRMATIONS = web.AppKey("confirmations", Confirmations)
PARTNERS = web.AppKey("partners", PartnerStore)
ACCOUNTS = web.AppKey("accounts", Accounts)
APPROVALS = web.AppKey("approvals", Approvals)
# Set only where the service runs the schedules.
SCHEDULER = web.AppKey("scheduler", Scheduler)
RELOAD: web.AppKey[Reload] = web.AppKey("reload")
REFRESH_PUBLIC: web.AppKey[Refresh] = web.AppKey("refresh_public")
COUNT_DELIVERIES: web.AppKey[Counts] = web.AppKey("count_deliveries")

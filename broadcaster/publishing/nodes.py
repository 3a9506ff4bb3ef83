"""Several nodes on one PostgreSQL store: what one hears from the others.

A node that reloads its workspace (a staff save, an approval's schedule, SIGHUP, --watch)
says so on the NOTIFY channel (store/notify.py); every other node then reloads the shared
workspace folder too, so all of them serve and publish the same revisions within about a
second. A node that lost its listening connection reloads once it is back, since it may
have missed word.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from broadcaster.store.notify import WORKSPACE, Notifications

log = logging.getLogger(__name__)

# How long a listening node waits for word before looking again (word cannot be missed
# while listening; this only bounds the wait).
QUIET_SECONDS = 60.0


async def follow_workspace(
    notifications: Notifications, reload: Callable[[], Awaitable[bool]]
) -> None:
    """Reload whenever another node reloaded (runs until cancelled; nothing on SQLite)."""
    if not notifications.enabled:
        return
    while True:
        if await notifications.wait(WORKSPACE, QUIET_SECONDS):
            log.info("another node reloaded the workspace; reloading")
            try:
                await reload()
            except Exception:
                log.exception("could not reload after another node did; trying at its next word")

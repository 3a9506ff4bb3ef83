"""Word between nodes that share a PostgreSQL store: LISTEN/NOTIFY on one channel.

A node says what changed (`send("workspace")`); the database itself says when a website or
feeds delivery went out or a campaign was withdrawn (triggers of migration 0017 send
`public`). Each node listens on a dedicated asyncpg connection, reconnecting when it drops;
while it is not listening (and always on SQLite, which has no such thing) `listening` is
false and the followers poll the store instead, as they did before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)

# The one NOTIFY channel; a payload is "<topic>" or "<topic> <node>".
CHANNEL = "broadcaster"
# Topics: website or feeds deliveries went out, or a withdrawal (sent by triggers).
PUBLIC = "public"
# A node reloaded its workspace after a staff edit, a schedule added, SIGHUP or --watch.
WORKSPACE = "workspace"
# How often a quiet listening connection is checked, and how long reconnecting may back off.
KEEPALIVE_SECONDS = 15.0
# How long a starting node waits to listen before reading the workspace (it reads anyway
# after that, and looks again once listening).
LISTEN_WITHIN = 5.0
MAX_BACKOFF_SECONDS = 30.0


class Notifications:
    """This node's side of the NOTIFY channel: send, and wake whoever waits on a topic."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.node = uuid.uuid4().hex[:12]
        self.enabled = engine.dialect.name == "postgresql"
        self._events: dict[str, asyncio.Event] = {}
        self._listening = asyncio.Event()
        # Something shared was read while not listening: word about it may have been missed.
        self._unheard = False

    @property
    def listening(self) -> bool:
        """True while notifications arrive; followers poll while it is false."""
        return self._listening.is_set()

    async def started(self, within: float) -> bool:
        """Wait at most `within` seconds for the listening connection (run() must be
        running); True once it listens. Read the workspace after this, not before."""
        if not self.enabled:
            return False
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                await self._listening.wait()
        return self.listening

    def reading(self) -> None:
        """This node is about to read what the others announce (the workspace files):
        when that happens while not listening, the first connection looks again."""
        if self.enabled and not self.listening:
            self._unheard = True

    async def send(self, topic: str) -> None:
        """Tell every other node that `topic` changed (nothing on SQLite; a failure is
        logged: the others catch up when they poll or reconnect)."""
        if not self.enabled:
            return
        try:
            async with self.engine.begin() as conn:
                await conn.execute(
                    text("SELECT pg_notify(:channel, :payload)"),
                    {"channel": CHANNEL, "payload": f"{topic} {self.node}"},
                )
        except Exception as exc:  # the store may be away; the others poll then
            log.warning("could not tell the other nodes that the %s changed: %s", topic, exc)

    async def wait(self, topic: str, within: float) -> bool:
        """Wait at most `within` seconds for `topic` from another node or the database;
        True when it came. After a reconnect it comes once anyway: what was sent while not
        listening is lost, so whoever waits should look again."""
        event = self._events.setdefault(topic, asyncio.Event())
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                await event.wait()
        came = event.is_set()
        event.clear()
        return came

    def _heard(self, payload: str) -> None:
        topic, _, node = payload.partition(" ")
        if node == self.node:
            return  # our own word
        self._events.setdefault(topic, asyncio.Event()).set()

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        self._heard(payload)

    def _dsn(self) -> str:
        url = self.engine.url.set(drivername="postgresql")
        return url.render_as_string(hide_password=False)

    async def run(self) -> None:
        """Listen until cancelled, reconnecting with backoff (nothing to do on SQLite)."""
        if not self.enabled:
            return
        backoff = 1.0
        while True:
            try:
                conn = await asyncpg.connect(self._dsn(), timeout=10)
            except Exception as exc:  # refused, unreachable, bad credentials: try again
                log.warning("cannot listen for other nodes' changes (%s); polling meanwhile", exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
                continue
            try:
                await conn.add_listener(CHANNEL, self._on_notify)
                self._listening.set()
                backoff = 1.0
                if self._unheard:  # read, or were away, while not listening: look again
                    log.info("listening for other nodes' changes")
                    self._unheard = False
                    for topic in (PUBLIC, WORKSPACE):
                        self._heard(topic)
                await _keep_alive(conn)
                log.warning("the listening connection closed; reconnecting")
            except Exception as exc:  # asyncpg's InterfaceError too (connection gone)
                log.warning("the listening connection failed (%s); reconnecting", exc)
            finally:
                self._listening.clear()
                self._unheard = True  # whatever is said until the next connection is lost
                conn.terminate()


@contextlib.asynccontextmanager
async def listening(engine: AsyncEngine, listen: bool = True) -> AsyncIterator[Notifications]:
    """This node's Notifications, listening (when `listen`, on PostgreSQL) from before the
    caller reads anything the others announce; it stops listening on exit."""
    notifications = Notifications(engine)
    if not (listen and notifications.enabled):
        yield notifications
        return
    task = asyncio.create_task(notifications.run(), name="listen")
    try:
        await notifications.started(LISTEN_WITHIN)
        yield notifications
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _keep_alive(conn: asyncpg.Connection) -> None:
    """Return when `conn` closes or stops answering (a silent network drop too)."""
    closed = asyncio.Event()
    conn.add_termination_listener(lambda _conn: closed.set())
    while not conn.is_closed():
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(KEEPALIVE_SECONDS):
                await closed.wait()
                return
        async with asyncio.timeout(5):
            await conn.fetchval("SELECT 1")

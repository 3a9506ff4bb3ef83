"""A real `broadcaster serve` killed with SIGKILL a third of the way into a 3,000-subscriber
fan-out to a real SMTP server, then started again: every citizen gets the message, and
what goes out twice is bounded by what was in flight (docs/operations.md).
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SmtpServer
from aiosmtpd.smtp import Envelope, Session

from broadcaster.store import create_engine
from tests.test_serve_processes import (
    SHUTDOWN_TIMEOUT,
    Serve,
    delivery_counts,
    environment,
    eventually,
    free_port,
    run_cli,
    schedule_launch,
    serving,
)

SUBSCRIBERS = 3000
KILL_AT = SUBSCRIBERS // 3
IN_FLIGHT_BOUND = 50  # 8 connections: what the docs promise at most


class KillingHandler:
    """Counts every message per recipient; SIGKILLs the sender at the `kill_at`-th one."""

    def __init__(self, kill_at: int) -> None:
        self.kill_at = kill_at
        self.pid: int | None = None
        self.lock = threading.Lock()
        self.received: list[tuple[str, str]] = []  # (recipient, Message-ID)
        self.killed = threading.Event()

    async def handle_DATA(self, server: SmtpServer, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        message_id = str(message_from_bytes(envelope.content)["Message-ID"])
        with self.lock:
            for recipient in envelope.rcpt_tos:
                self.received.append((recipient, message_id))
            if not self.killed.is_set() and len(self.received) >= self.kill_at:
                assert self.pid is not None
                os.kill(self.pid, signal.SIGKILL)  # before this message is even answered
                self.killed.set()
        return "250 OK"


def subscriber_list(root: Path, count: int) -> Path:
    path = root / "subscribers.csv"
    rows = [f"citizen{n}@example.vn,vi,online-services,immediate" for n in range(count)]
    path.write_text("email,locale,topics,frequency\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


async def test_sigkill_mid_fan_out_resends_at_most_what_was_in_flight(
    workspace: Path, tmp_path: Path
) -> None:
    handler = KillingHandler(KILL_AT)
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        env = {
            **environment(lease_seconds="3", shutdown_timeout=str(SHUTDOWN_TIMEOUT)),
            "MAIL_TRANSPORT": "smtp",
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(port),
        }
        root = str(workspace)
        await run_cli(
            env,
            *("subscribers", "import", str(subscriber_list(tmp_path, SUBSCRIBERS))),
            *("--confirmed", "--consent-note", "test list", "--root", root),
        )
        # Missed a minute ago: the process publishes it as soon as it starts (catch-up).
        fire_at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
        schedule_launch(workspace, "online-submission", "[citizens]", fire_at)

        crashed = Serve(workspace, env, tmp_path / "crashed.log")
        async with serving(crashed):
            handler.pid = crashed.pid
            killed = await asyncio.to_thread(handler.killed.wait, 60)
            assert killed, f"the fan-out never reached {KILL_AT}:\n{crashed.output()}"
            await crashed.kill()
        assert crashed.process is not None
        assert crashed.process.returncode == -signal.SIGKILL
        with handler.lock:
            at_kill = len(handler.received)

        engine = create_engine(f"sqlite+aiosqlite:///{workspace / 'var/broadcaster.db'}")
        try:
            before = await delivery_counts(engine)
            assert before.get("delivered", 0) < SUBSCRIBERS, before

            restarted = Serve(workspace, env, tmp_path / "restarted.log")
            async with serving(restarted) as session:
                await restarted.wait_healthy(session, within=60)

                async def all_delivered() -> bool:
                    return await delivery_counts(engine) == {"delivered": SUBSCRIBERS}

                await eventually(all_delivered, 60, "every delivery after the restart", 0.2)
                assert await restarted.stop() == 0, restarted.output()
        finally:
            await engine.dispose()
    finally:
        controller.stop()

    with handler.lock:
        received = list(handler.received)
    copies = Counter(recipient for recipient, _ in received)
    assert len(copies) == SUBSCRIBERS, "every citizen gets the message"
    ids: dict[str, set[str]] = {}
    for recipient, message_id in received:
        ids.setdefault(recipient, set()).add(message_id)
    assert all(len(found) == 1 for found in ids.values()), "one Message-ID per citizen"
    duplicates = len(received) - SUBSCRIBERS
    print(f"killed at {at_kill} received; {duplicates} sent twice after the restart")
    assert duplicates <= IN_FLIGHT_BOUND, f"{duplicates} sent twice (bound {IN_FLIGHT_BOUND})"

"""Several delivery processes on one host: a real `serve` with a real `broadcaster worker`
(PostgreSQL), and `serve --processes 2` (SQLite), share one fan-out to a real SMTP server:
each process delivers part of it, every citizen gets the message once, and all stop cleanly.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SmtpServer
from aiosmtpd.smtp import Envelope, Session
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import NullPool

from broadcaster.outbox.tables import delivery_attempts
from broadcaster.store import create_engine
from tests.test_serve_fanout_crash import subscriber_list
from tests.test_serve_processes import (
    BROADCASTER,
    SHUTDOWN_TIMEOUT,
    Serve,
    delivery_counts,
    environment,
    eventually,
    free_port,
    pg_engine,
    pg_url,
    run_cli,
    schedule_launch,
    serving,
)

__all__ = ["pg_engine", "pg_url"]  # fixtures

SUBSCRIBERS = 4000


class Recorder:
    """Every (recipient, Message-ID) the SMTP server accepts."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.received: list[tuple[str, str]] = []

    async def handle_DATA(self, server: SmtpServer, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        message_id = str(message_from_bytes(envelope.content)["Message-ID"])
        with self.lock:
            self.received.extend((recipient, message_id) for recipient in envelope.rcpt_tos)
        return "250 OK"


class Process(Serve):
    """`broadcaster COMMAND --root ROOT [ARGS]` (serve or worker) as a child process."""

    def __init__(
        self, root: Path, env: Mapping[str, str], log: Path, command: str, *args: str
    ) -> None:
        super().__init__(root, env, log)
        self.command = [command, "--root", str(root), *args]

    async def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                str(BROADCASTER),
                *self.command,
                env=self.env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )

    async def wait_delivering(self, within: float = 30) -> None:
        async def ready() -> bool:
            assert self.process is not None
            assert self.process.returncode is None, self.output()
            return "delivering from the outbox" in self.output()

        await eventually(ready, within, f"the worker start:\n{self.output()}", 0.1)


async def pids_that_delivered(engine: AsyncEngine) -> Counter[int]:
    """Process id -> deliveries it recorded as delivered (worker ids are host:pid:...)."""
    a = delivery_attempts.c
    async with engine.connect() as conn:
        rows = await conn.execute(select(a.worker).where(a.outcome == "delivered"))
        return Counter(int(worker.split(":")[1]) for (worker,) in rows)


async def fan_out(
    workspace: Path,
    tmp_path: Path,
    env: dict[str, str],
    engine: AsyncEngine,
    serve_args: tuple[str, ...],
) -> tuple[Recorder, Counter[int], list[Process]]:
    """Import the list, start a worker (unless `serve_args` asks for processes) and serve,
    let serve publish a missed firing to every citizen, wait, stop them all."""
    recorder = Recorder()
    port = free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        env |= {"MAIL_TRANSPORT": "smtp", "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port)}
        await run_cli(
            env,
            *("subscribers", "import", str(subscriber_list(tmp_path, SUBSCRIBERS))),
            *("--confirmed", "--consent-note", "test list", "--root", str(workspace)),
        )
        fire_at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
        schedule_launch(workspace, "online-submission", "[citizens]", fire_at)
        serve = Process(workspace, env, tmp_path / "serve.log", "serve", *serve_args)
        processes = [serve]
        if not serve_args:
            processes.insert(0, Process(workspace, env, tmp_path / "worker.log", "worker"))
        async with serving(*processes[:-1]) as session:
            for process in processes[:-1]:
                await process.wait_delivering()
            async with serving(serve):
                await serve.wait_healthy(session, within=60)

                async def all_delivered() -> bool:
                    return await delivery_counts(engine) == {"delivered": SUBSCRIBERS}

                await eventually(all_delivered, 120, "every delivery", 0.2)
                codes = await asyncio.gather(*(p.stop() for p in processes))
            assert codes == [0] * len(processes), "".join(p.output() for p in processes)
        pids = await pids_that_delivered(engine)
    finally:
        controller.stop()
    return recorder, pids, processes


def assert_each_once(recorder: Recorder) -> None:
    with recorder.lock:
        received = list(recorder.received)
    copies = Counter(recipient for recipient, _ in received)
    assert len(copies) == SUBSCRIBERS, "every citizen gets the message"
    assert set(copies.values()) == {1}, "once"


@pytest.mark.postgres
async def test_serve_and_a_worker_share_a_fan_out_on_postgresql(
    workspace: Path, pg_url: str, pg_engine: AsyncEngine, tmp_path: Path
) -> None:
    env = environment(database_url=pg_url, shutdown_timeout=str(SHUTDOWN_TIMEOUT))
    recorder, pids, (worker, serve) = await fan_out(workspace, tmp_path, env, pg_engine, ())
    assert_each_once(recorder)
    assert set(pids) == {worker.pid, serve.pid}, pids
    assert sum(pids.values()) == SUBSCRIBERS
    print(f"delivered by serve {pids[serve.pid]}, by the worker {pids[worker.pid]}")


async def test_serve_processes_2_shares_a_fan_out_on_sqlite_and_stops_its_worker(
    workspace: Path, tmp_path: Path
) -> None:
    env = environment(shutdown_timeout=str(SHUTDOWN_TIMEOUT))
    url = f"sqlite+aiosqlite:///{workspace / 'var/broadcaster.db'}"
    engine = create_engine(url, poolclass=NullPool)
    try:
        recorder, pids, (serve,) = await fan_out(
            workspace, tmp_path, env, engine, ("--processes", "2")
        )
    finally:
        await engine.dispose()
    assert_each_once(recorder)
    assert len(pids) == 2, pids
    assert serve.pid in pids
    assert sum(pids.values()) == SUBSCRIBERS
    (child,) = set(pids) - {serve.pid}
    with pytest.raises(ProcessLookupError):  # stopped (and reaped) with serve
        os.kill(child, 0)


async def test_worker_reloads_on_sighup_and_stops_on_sigint(
    workspace: Path, tmp_path: Path
) -> None:
    env = environment(shutdown_timeout=str(SHUTDOWN_TIMEOUT))
    worker = Process(workspace, env, tmp_path / "worker.log", "worker")
    async with serving(worker):
        await worker.wait_delivering()
        os.kill(worker.pid, signal.SIGHUP)

        async def reloaded() -> bool:
            return "workspace reloaded" in worker.output()

        await eventually(reloaded, 30, "the reload", 0.1)
        assert await worker.stop(signal.SIGINT) == 0, worker.output()
    assert "Traceback" not in worker.output()

"""`broadcaster db backup` during a fan-out and `db restore`: nothing recorded before the
backup vanishes, and what was not delivered at the backup is delivered after the restore.

Real processes: `serve` delivers the list mail to a real SMTP server (aiosmtpd) at a set
rate, `db backup` runs while it does, `db restore` replaces the store once `serve` stopped,
and a new `serve` finishes the work.
"""

from __future__ import annotations

import asyncio
import csv
import email
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import pytest_asyncio
import yaml
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SmtpServer
from aiosmtpd.smtp import Envelope, Session
from click.testing import CliRunner, Result
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import NullPool

from broadcaster.cli.main import main
from broadcaster.outbox.tables import deliveries
from broadcaster.store import create_engine
from broadcaster.store.testing import TEST_DATABASE_ENV, postgres_fresh_database, postgres_url
from broadcaster.subscribers.tables import subscribers
from tests.mail.conftest import Handler
from tests.test_serve_processes import (
    BROADCASTER,
    Serve,
    environment,
    eventually,
    free_port,
    run_cli,
    serving,
)

pytestmark = pytest.mark.skipif(
    not BROADCASTER.exists(), reason=f"{BROADCASTER} missing: pip install -e . in the venv"
)

PEOPLE = 240
RATE = 40  # messages a second: the fan-out takes about six seconds


@pytest_asyncio.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def store_url(request: pytest.FixtureRequest, workspace: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{workspace / 'var' / 'broadcaster.db'}"
        return
    server = postgres_url()
    if server is None:
        pytest.skip(f"{TEST_DATABASE_ENV} is not set, e.g. postgresql+asyncpg://postgres@/test")
    async with postgres_fresh_database(server) as url:
        yield url


@dataclass
class GatedHandler(Handler):
    """A real SMTP server that answers a message's content only while its gate is open,
    so the test can hold a fan-out midway however slow the machine is."""

    gate: threading.Event = field(default_factory=threading.Event)

    async def handle_DATA(self, server: SmtpServer, session: Session, envelope: Envelope) -> str:
        await asyncio.to_thread(self.gate.wait)  # the server's loop runs in its own thread
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def smtp() -> Iterator[GatedHandler]:
    handler = GatedHandler()
    handler.gate.set()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    handler.port = controller.port  # type: ignore[attr-defined]
    try:
        yield handler
    finally:
        controller.stop()


async def delivered_ids(engine: AsyncEngine) -> set[int]:
    d = deliveries.c
    async with engine.connect() as conn:
        rows = await conn.execute(select(d.id).where(d.status == "delivered"))
        return {row.id for row in rows}


async def count(engine: AsyncEngine, table: object) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())  # type: ignore[arg-type]


def slow_list_mail(root: Path) -> None:
    path = root / "channels/citizens.yaml"
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    config["rate_per_second"] = RATE
    config["smtp"]["timeout"] = 300  # a message held at the gate is not a failure
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")


def people(root: Path) -> tuple[Path, list[str]]:
    addresses = [f"nguoi{n}@mail.example.vn" for n in range(PEOPLE)]
    path = root / "people.csv"
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["email", "locale", "topics", "frequency"])
        writer.writerows([a, "vi", "online-services", "immediate"] for a in addresses)
    return path, addresses


async def test_a_backup_taken_mid_fan_out_restores_with_nothing_lost(
    workspace: Path, store_url: str, smtp: GatedHandler, tmp_path: Path
) -> None:
    slow_list_mail(workspace)
    csv_file, addresses = people(workspace)
    env = environment(
        database_url=store_url,
        lease_seconds="4",
        workers="1",  # one batch at a time: 80 settled every two seconds
        shutdown_timeout="5",
        secret_key="k" * 32,
    )
    env |= {"MAIL_TRANSPORT": "smtp", "SMTP_PORT": str(smtp.port)}  # type: ignore[attr-defined]
    root = ("--root", str(workspace))
    await run_cli(env, "subscribers", "import", str(csv_file), "--confirmed",
                  "--consent-note", "sample list for a restore drill", *root)  # fmt: skip
    engine = create_engine(store_url, poolclass=NullPool)
    backup = tmp_path / "backups" / "store.backup"
    try:
        first = Serve(workspace, env, tmp_path / "first.log")
        async with serving(first) as session:
            await first.wait_healthy(session)
            await run_cli(env, "publish", "online-submission", "--channels", "citizens", *root)

            async def under_way() -> bool:
                return len(await delivered_ids(engine)) >= PEOPLE // 5

            await eventually(under_way, 30, "a fifth of the fan-out")
            smtp.gate.clear()  # hold the fan-out midway while the backup is taken
            before = await delivered_ids(engine)
            said = await run_cli(env, "db", "backup", str(backup), *root)
            after = await delivered_ids(engine)
            smtp.gate.set()
            assert said.startswith("backed up "), said
            assert len(after) < PEOPLE, "the fan-out ended before the backup: nothing to test"

            async def all_sent() -> bool:
                return len(await delivered_ids(engine)) == PEOPLE

            await eventually(all_sent, 60, "the whole fan-out")
            assert await first.stop() == 0, first.output()

        said = await run_cli(env, "db", "restore", str(backup), "--yes", *root)
        assert said.startswith(f"restored {backup} into "), said
        restored = await delivered_ids(engine)
        # Everything delivered before the backup is still recorded; what came after is not.
        assert before <= restored <= after
        assert len(restored) < PEOPLE
        assert await count(engine, subscribers) == PEOPLE

        second = Serve(workspace, env, tmp_path / "second.log")
        async with serving(second) as session:
            await second.wait_healthy(session)

            async def all_sent_again() -> bool:
                return len(await delivered_ids(engine)) == PEOPLE

            await eventually(all_sent_again, 60, "the rest of the fan-out after the restore")
            assert await second.stop() == 0, second.output()
        assert await count(engine, deliveries) == PEOPLE
    finally:
        await engine.dispose()

    # Every reader got the mail; one sent again after the restore keeps its Message-ID.
    ids: dict[str, set[str]] = {}
    for received in smtp.delivered():
        message = email.message_from_bytes(received.data)
        for to in received.recipients:
            ids.setdefault(to, set()).add(str(message["Message-ID"]))
    assert sorted(ids) == sorted(addresses)
    assert all(len(found) == 1 for found in ids.values())
    await asyncio.sleep(0)


def db(workspace: Path, *args: str, env: dict[str, str | None] | None = None) -> Result:
    result = CliRunner(env=env).invoke(main, ["db", *args, "--root", str(workspace)], input="n\n")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def test_without_pg_dump_the_backup_says_what_to_run(workspace: Path, tmp_path: Path) -> None:
    url = "postgresql+asyncpg://broadcaster:not-shown@db.example.internal/broadcaster"
    result = db(
        workspace,
        "backup",
        str(tmp_path / "store.dump"),
        env={"BROADCASTER_DATABASE_URL": url, "PATH": str(tmp_path)},  # no pg_dump there
    )
    assert result.exit_code == 1
    assert "pg_dump is not installed here" in result.stderr
    assert "apt-get install postgresql-client" in result.stderr
    assert (
        f"pg_dump --format=custom --no-owner --file={tmp_path / 'store.dump'} "
        "postgresql://broadcaster@db.example.internal/broadcaster"
    ) in result.stderr
    assert "not-shown" not in result.output + result.stderr


def test_a_restore_asks_first_and_refuses_what_is_not_a_backup(
    workspace: Path, tmp_path: Path
) -> None:
    env: dict[str, str | None] = {
        "BROADCASTER_DATABASE_URL": f"sqlite+aiosqlite:///{workspace / 'var' / 'bc.db'}"
    }
    assert db(workspace, "upgrade", env=env).exit_code == 0
    backup = tmp_path / "store.db"
    made = db(workspace, "backup", str(backup), env=env)
    assert made.exit_code == 0, made.output
    assert made.stdout.startswith(f"backed up {workspace / 'var' / 'bc.db'} to {backup} (")

    declined = db(workspace, "restore", str(backup), env=env)  # answers "n"
    assert declined.exit_code == 1
    assert "replace everything in" in declined.output

    not_a_backup = workspace / "schedules.yaml"
    refused = db(workspace, "restore", str(not_a_backup), "--yes", env=env)
    assert refused.exit_code == 1
    assert f"{not_a_backup} is not a backup of a Broadcaster SQLite database" in refused.stderr

    restored = db(workspace, "restore", str(backup), "--yes", env=env)
    assert restored.exit_code == 0, restored.output
    assert "database is up to date" not in restored.stdout  # restore says its own line
    assert restored.stdout.startswith(f"restored {backup} into ")

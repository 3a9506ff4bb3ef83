"""`broadcaster bounces process` as a user runs it: a workspace, its database, a Maildir."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from click.testing import CliRunner

from broadcaster.cli.main import main
from broadcaster.settings import Settings
from broadcaster.store import create_engine, upgrade_engine
from broadcaster.subscribers.store import SqlSubscriberStore
from tests.bounces.conftest import subscribe
from tests.bounces.messages import SECRET, arf, dsn, ordinary, verp_address
from tests.bounces.test_process import GARBAGE, maildir


def environment(root: Path) -> dict[str, str]:
    return {
        "BROADCASTER_DATABASE_URL": f"sqlite+aiosqlite:///{root / 'var' / 'broadcaster.db'}",
        "BROADCASTER_SECRET_KEY": SECRET.decode(),
    }


@asynccontextmanager
async def workspace_store(root: Path) -> AsyncIterator[SqlSubscriberStore]:
    """The subscriber store of the workspace's database, as the command opens it."""
    settings = Settings.from_environ(root, environment(root))
    engine = create_engine(settings.database_url)
    try:
        await upgrade_engine(engine)
        yield SqlSubscriberStore(engine, SECRET)
    finally:
        await engine.dispose()


def test_bounces_process_reports_every_message_without_a_traceback(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    gone, complainer = "het.han@mail.example.vn", "khieu.nai@mail.example.vn"

    async def prepare() -> list[int]:
        async with workspace_store(root) as store:
            return [await subscribe(store, email) for email in (gone, complainer)]

    _, complainer_id = asyncio.run(prepare())
    box = maildir(
        tmp_path / "Maildir",
        {
            "1.dsn": dsn(gone),
            "2.arf": arf(complainer, verp_address(complainer_id)),
            "3.reply": ordinary(),
            "4.broken": GARBAGE,
        },
    )

    result = CliRunner().invoke(
        main, ["bounces", "process", str(box), "--root", str(root)], env=environment(root)
    )

    assert result.exit_code == 0, result.output
    assert "4 message(s)" in result.output
    assert "hard bounces           1" in result.output
    assert "complaints             1" in result.output
    assert "addresses suppressed   2, subscribers unsubscribed 1" in result.output
    assert "new/3.reply: not a bounce" in result.output
    assert "new/4.broken: unreadable - IndexError" in result.output
    assert "Traceback" not in result.output

    async def check() -> tuple[bool, bool]:
        async with workspace_store(root) as store:
            return await store.is_suppressed(gone), await store.is_suppressed(complainer)

    assert asyncio.run(check()) == (True, True)


def test_a_path_that_is_no_mailbox_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "folder").mkdir()
    runner = CliRunner()
    for path, message in [
        (tmp_path / "folder", "is a folder but not a Maildir"),
        (tmp_path / "missing", "no such file or folder"),
    ]:
        result = runner.invoke(
            main,
            ["bounces", "process", str(path), "--root", str(tmp_path)],
            env=environment(tmp_path),
        )
        assert result.exit_code == 2
        assert message in result.output
        assert "Traceback" not in result.output


def test_a_soft_bounce_file_processed_twice_is_counted_once(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    full = "hop.thu.day@mail.example.vn"

    async def prepare() -> int:
        async with workspace_store(root) as store:
            return await subscribe(store, full)

    subscriber_id = asyncio.run(prepare())
    # A single message file, not a Maildir or an mbox: nothing marks it as read.
    bounce = tmp_path / "mailbox-full.eml"
    bounce.write_bytes(
        dsn(
            full,
            status="4.2.2",
            action="delayed",
            diagnostic="smtp; 452 4.2.2 <{rcpt}>: Mailbox full",
        )
    )

    async def score() -> int:
        async with workspace_store(root) as store:
            data = await store.export_data(subscriber_id)
        assert data is not None
        return int(data["bounce_score"])

    command = ["bounces", "process", str(bounce), "--root", str(root)]
    first = CliRunner().invoke(main, command, env=environment(root))
    assert first.exit_code == 0, first.output
    assert "soft bounces           1" in first.output
    assert asyncio.run(score()) == 1

    again = CliRunner().invoke(main, command, env=environment(root))
    assert again.exit_code == 0, again.output
    assert asyncio.run(score()) == 1
    assert "repeated bounces       1" in again.output
    assert f"mailbox-full.eml: repeated bounce - {full}" in again.output
    assert "Traceback" not in again.output

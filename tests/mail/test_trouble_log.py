"""Temporary delivery failures reach the operator's log: once at once, then counted, not a
line per message (a relay answering 451, a Maildir that cannot be written)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from broadcaster.outbox.trouble import TroubleLog
from tests.conftest import tmpfs
from tests.mail.conftest import Handler, Rig, make_rig

READERS = ("an@example.vn", "binh@example.vn", "chi@example.vn", "dung@example.vn")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def trouble_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "broadcaster.outbox.trouble" and r.levelno == logging.WARNING
    ]


async def temporary_failures(rig: Rig, publication_id: int) -> int:
    """Attempts recorded for the publication's deliveries (one per reader, ids from 1)."""
    assert publication_id == 1
    return sum([len(await rig.outbox.attempts(d)) for d in range(1, len(READERS) + 1)])


async def test_a_relay_answering_451_is_logged_once_then_counted_per_minute(
    smtp_rig: Rig, handler: Handler, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    smtp_rig.workers.trouble = TroubleLog(clock=clock)
    for address in READERS:
        await smtp_rig.subscribe(address)
        handler.rcpt_replies[address] = [f"451 4.3.0 <{address}>: queue file write error"] * 50
    publication_id = await smtp_rig.publish()

    with caplog.at_level(logging.WARNING):
        await smtp_rig.workers.run_until_idle()
    failures = await temporary_failures(smtp_rig, publication_id)
    assert failures > len(READERS)  # every reader tried more than once, none delivered
    assert handler.delivered() == []

    (first,) = trouble_lines(caplog)
    assert first.startswith("channel citizens: deliveries fail for now (SMTP 451 4.3.0): ")
    assert "queue file write error" in first
    assert "relay's log" in first
    assert "retried" in first
    # Not a line per message anywhere in the log.
    assert sum("451" in r.getMessage() for r in caplog.records) == 1

    caplog.clear()
    clock.now += 30
    smtp_rig.workers.trouble.flush()
    assert trouble_lines(caplog) == []  # within the minute: nothing more yet
    clock.now += 31
    smtp_rig.workers.trouble.flush()
    (summary,) = trouble_lines(caplog)
    assert summary.startswith(
        f"channel citizens: {failures - 1} more deliveries failed for now in the last 61 s: "
        "SMTP 451 4.3.0; the last: SMTP 451 4.3.0 <"
    )

    caplog.clear()
    clock.now += 61
    smtp_rig.workers.trouble.flush()  # a quiet minute: nothing to say, and forgotten
    assert trouble_lines(caplog) == []
    await smtp_rig.workers.stop(1)
    assert trouble_lines(caplog) == []


async def test_a_maildir_that_cannot_be_written_is_logged_once_with_what_to_do(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.conftest import copy_workspace

    root = copy_workspace(tmp_path / "ws")
    rig = await make_rig(root, {"BROADCASTER_SECRET_KEY": "k" * 40})  # transport: maildir
    try:
        clock = Clock()
        rig.workers.trouble = TroubleLog(clock=clock)
        for address in READERS:
            await rig.subscribe(address)
        # The Maildir's place is taken by a file: nothing can be written there.
        (root / "var").mkdir(exist_ok=True)
        (root / "var" / "mail").write_text("not a folder")
        publication_id = await rig.publish()
        with caplog.at_level(logging.WARNING):
            await rig.workers.run_until_idle()
        failures = await temporary_failures(rig, publication_id)
        assert failures > len(READERS)

        (first,) = trouble_lines(caplog)
        assert first.startswith("channel citizens: deliveries fail for now: cannot open Maildir ")
        assert "var/mail: Not a directory; make it a folder the service can write" in first
        assert "retried" in first
        caplog.clear()
        await rig.workers.stop(1)  # stopping says how many more there were
        (summary,) = trouble_lines(caplog)
        assert f"channel citizens: {failures - 1} more deliveries failed for now" in summary
    finally:
        await rig.close()


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A Maildir on a tiny file system that is full."""
    with tmpfs(tmp_path / "full", "64k") as folder:
        for sub in ("tmp", "new", "cur"):
            (folder / "mail" / sub).mkdir(parents=True)
        with contextlib.suppress(OSError), open(folder / "filler", "wb") as filler:
            while True:
                filler.write(b"x" * 4096)
                filler.flush()
        yield folder / "mail"


async def test_a_full_disk_under_the_maildir_is_logged_once_then_counted(
    tmp_path: Path, full_disk: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.conftest import copy_workspace

    root = copy_workspace(tmp_path / "ws")
    channel = root / "channels" / "citizens.yaml"
    text = channel.read_text(encoding="utf-8")
    channel.write_text(f"{text.rstrip()}\nmaildir: {full_disk}\n", encoding="utf-8")
    rig = await make_rig(root, {"BROADCASTER_SECRET_KEY": "k" * 40})  # transport: maildir
    try:
        rig.workers.trouble = TroubleLog(clock=Clock())
        for address in READERS:
            await rig.subscribe(address)
        publication_id = await rig.publish()
        with caplog.at_level(logging.WARNING):
            await rig.workers.run_until_idle()
        failures = await temporary_failures(rig, publication_id)
        assert failures > len(READERS)

        (first,) = trouble_lines(caplog)
        assert first.startswith(
            f"channel citizens: deliveries fail for now: cannot write to {full_disk}"
        )
        assert "No space left on device; free space on the disk that holds it" in first
        caplog.clear()
        await rig.workers.stop(1)
        (summary,) = trouble_lines(caplog)
        assert summary.startswith(f"channel citizens: {failures - 1} more deliveries failed")
    finally:
        await rig.close()

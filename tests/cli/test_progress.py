"""Progress of long commands: a bar with count and rate on a terminal, quiet lines elsewhere,
and `publish --wait`'s summary per channel with the time taken."""

from __future__ import annotations

import csv
import io
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from broadcaster.cli.main import main
from broadcaster.cli.progress import Meter

BROADCASTER = Path(sys.executable).with_name("broadcaster")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_off_a_terminal_a_line_every_few_seconds_and_one_at_the_end() -> None:
    stream, clock = io.StringIO(), Clock()
    with Meter("importing subscribers", 100_000, stream=stream, clock=clock) as meter:
        meter.advance(5_000)
        clock.now += 1
        meter.advance(5_000)  # within 5 s of the start: nothing yet
        clock.now += 4
        meter.advance(15_000)
        clock.now += 5
        meter.advance(75_000)
    assert stream.getvalue().splitlines() == [
        "importing subscribers: 25,000/100,000 (5,000/s)",
        "importing subscribers: 100,000/100,000 (10,000/s)",
        "importing subscribers: 100,000 done in 10.0 s (10,000/s)",
    ]


def test_short_work_off_a_terminal_says_nothing() -> None:
    stream, clock = io.StringIO(), Clock()
    with Meter("exporting subscribers", stream=stream, clock=clock) as meter:
        meter.advance(3)
        clock.now += 0.5
    assert stream.getvalue() == ""


def test_on_a_terminal_a_bar_with_count_and_rate() -> None:
    stream = io.StringIO()
    with Meter("migrations", 8, stream=stream, terminal=True) as meter:
        for _ in range(8):
            meter.advance()
    shown = ANSI.sub("", stream.getvalue())
    assert "migrations" in shown
    assert "8/8" in shown
    assert re.search(r"[\d,]+/s", shown), shown


def on_a_terminal(*args: str, env: dict[str, str]) -> str:
    """Run `broadcaster ARGS` with stdout and stderr on a pseudo-terminal; what it showed."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [str(BROADCASTER), *args],
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
        env=env,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert process.wait(timeout=60) == 0, b"".join(chunks).decode(errors="replace")
    return ANSI.sub("", b"".join(chunks).decode(errors="replace"))


def test_subscribers_import_shows_a_bar_on_a_terminal(workspace: Path) -> None:
    people = workspace / "people.csv"
    with people.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["email", "locale", "topics", "frequency"])
        for n in range(3000):
            writer.writerow([f"nguoi{n}@mail.example.vn", "vi", "covid-19-measures", "daily"])
    env = {k: v for k, v in os.environ.items() if not k.startswith("BROADCASTER_")}
    env["COLUMNS"] = "120"

    shown = on_a_terminal(
        "subscribers",
        "import",
        str(people),
        "--confirmed",
        "--consent-note",
        "signed up at the counter (sample)",
        "--root",
        str(workspace),
        env=env,
    )

    assert "importing subscribers" in shown
    assert "3000/3000" in shown
    assert re.search(r"[\d,]+/s", shown), shown
    assert "added 3000 subscribers (3000 confirmed, 0 pending)" in shown


def test_publish_wait_ends_with_a_summary_per_channel_and_the_time(workspace: Path) -> None:
    env = {"BROADCASTER_DATABASE_URL": f"sqlite+aiosqlite:///{workspace / 'var' / 'bc.db'}"}
    result = CliRunner(env=env).invoke(
        main, ["publish", "--all", "--wait", "--root", str(workspace)]
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    done = next(i for i, line in enumerate(lines) if line.startswith("done in "))
    assert re.fullmatch(r"done in \d+\.\d s; per channel:", lines[done])
    # --all leaves out the fixture's campaign that expired in 2021.
    assert lines[done + 1 :] == [
        "  feeds        delivered 3",
        "  press-desk   delivered 6",
        "  website      delivered 3",
    ]
    # Not on a terminal: no bar, at most a quiet line every 5 s (a busy machine is slow).
    shown = [line for line in result.stderr.splitlines() if not line.startswith("skipped ")]
    assert all(line.startswith("delivering: ") for line in shown)

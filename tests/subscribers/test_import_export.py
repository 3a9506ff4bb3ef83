"""`broadcaster subscribers import|export`: all of a valid file or nothing, and a round trip."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from broadcaster.cli.main import main
from broadcaster.store import create_engine
from broadcaster.subscribers.api import SubscriberStatus
from broadcaster.subscribers.bulk import export_subscribers, import_subscribers
from broadcaster.subscribers.csvio import CsvSubscriber, read_subscribers
from broadcaster.subscribers.store import SqlSubscriberStore
from broadcaster.subscribers.tables import consents, subscribers
from broadcaster.workspace.models import Frequency
from tests.conftest import copy_workspace
from tests.subscribers.conftest import SECRET

HEADER = "email,locale,topics,frequency\n"
GOOD = (
    HEADER
    + "lan@example.vn,vi,online-services;support-contacts,immediate\n"
    + "Hoa.Le@Example.VN,en,covid-19-measures,weekly\n"
    + "\n"
    + '"tuan@example.vn",vi,"one-stop-counters; commune-support",daily\n'
)
BAD = (
    HEADER
    + "lan@example.vn,vi,online-services,immediate\n"
    + "not-an-address,vi,online-services,immediate\n"
    + "hoa@example.vn,fr,online-services,daily\n"
    + "tuan@example.vn,vi,online-services;no-such-topic,hourly\n"
    + "LAN@example.vn,en,support-contacts,daily\n"
    + "short@example.vn,vi\n"
    + "empty@example.vn,vi,,daily\n"
    + "trần@example.vn,vi,online-services,daily\n"
)
TOPICS = {"online-services", "support-contacts", "covid-19-measures", "one-stop-counters"}
TOPICS |= {"commune-support"}
LOCALES = {"vi", "en"}


def cli(workspace: Path, *args: str) -> tuple[int, str, str]:
    env = {
        "BROADCASTER_DATABASE_URL": f"sqlite+aiosqlite:///{workspace / 'var' / 'test.db'}",
        "BROADCASTER_SECRET_KEY": None,
    }
    result = CliRunner(env=env).invoke(main, ["subscribers", *args, "--root", str(workspace)])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


async def table_rows(workspace: Path) -> tuple[list[tuple[str, str]], list[tuple[str, str | None]]]:
    engine = create_engine(f"sqlite+aiosqlite:///{workspace / 'var' / 'test.db'}")
    try:
        async with engine.connect() as conn:
            people = await conn.execute(
                select(subscribers.c.email, subscribers.c.status).order_by(subscribers.c.id)
            )
            notes = await conn.execute(select(consents.c.action, consents.c.note))
            return [tuple(r) for r in people], [tuple(r) for r in notes]
    finally:
        await engine.dispose()


def test_every_bad_row_is_reported_at_its_line(tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    path.write_text(BAD, encoding="utf-8")
    rows, problems = read_subscribers(path, topics=TOPICS, locales=LOCALES, shown="list.csv")
    assert [r.line for r in rows] == [2]
    messages = [str(p) for p in problems]
    assert messages[0].startswith("list.csv:3: email: 'not-an-address' is not a valid email")
    assert messages[1:] == [
        "list.csv:4: locale 'fr' is not one of en, vi",
        "list.csv:5: frequency 'hourly' is not one of immediate, daily, weekly",
        "list.csv:5: topic 'no-such-topic' is not in campaigns/topics.yaml",
        "list.csv:6: LAN@example.vn is already on line 2",
        "list.csv:7: expected 4 fields, found 2",
        "list.csv:8: topics: name at least one, separated by ';'",
        "list.csv:9: email: 'trần@example.vn' has letters other than plain a-z, digits and "
        ".-_+ before the @; this list can only mail such addresses over SMTPUTF8, which it "
        "does not use: give an address without accents or other scripts before the @",
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "list.csv:1: the file is empty: start it with the header line"),
        ("lan@example.vn,vi,online-services,daily\n", "list.csv:1: the header must be"),
        ("email,locale,topics\n", "list.csv:1: the header must be"),
        ("email,locale,topics,frequency,age\n", "list.csv:1: the header must be"),
    ],
)
def test_a_missing_or_wrong_header_is_reported(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "list.csv"
    path.write_text(text, encoding="utf-8")
    rows, problems = read_subscribers(path, topics=TOPICS, locales=LOCALES, shown="list.csv")
    assert rows == []
    assert str(problems[0]).startswith(message)


def test_a_file_that_is_not_utf8_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    path.write_bytes((HEADER + "hà@example.vn,vi,online-services,daily\n").encode("cp1258"))
    _, problems = read_subscribers(path, topics=TOPICS, locales=LOCALES, shown="list.csv")
    assert [str(p) for p in problems] == [
        "list.csv:1: not UTF-8 text (invalid continuation byte): save the file as CSV UTF-8"
    ]


def test_a_file_with_bad_rows_imports_nothing(workspace: Path) -> None:
    path = workspace / "list.csv"
    path.write_text(BAD, encoding="utf-8")
    code, out, err = cli(workspace, "import", str(path))
    assert code == 1
    assert f"{path}:3: email: 'not-an-address'" in err
    assert f"{path}:8: topics: name at least one" in err
    assert err.rstrip().endswith(
        "7 bad lines: nothing was imported; fix the file and run the import again."
    )
    assert out == ""
    assert not (workspace / "var" / "test.db").exists()  # the store was not even opened


def test_a_good_file_imports_pending_and_confirmations_are_left_to_serve(
    workspace: Path,
) -> None:
    path = workspace / "list.csv"
    path.write_text(GOOD, encoding="utf-8")
    code, out, err = cli(workspace, "import", str(path))
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        f"{path}: added 3 subscribers (0 confirmed, 3 pending)",
        "  3 confirmation emails will be sent by `broadcaster serve`; "
        "each stays pending until its link is followed",
    ]
    people, notes = asyncio.run(table_rows(workspace))
    assert people == [
        ("lan@example.vn", "pending"),
        ("Hoa.Le@example.vn", "pending"),
        ("tuan@example.vn", "pending"),
    ]
    assert notes == [("import", None)] * 3
    code, out, _ = cli(workspace, "import", str(path))
    assert out.splitlines() == [
        f"{path}: added 0 subscribers (0 confirmed, 0 pending)",
        "  3 already on the list, left unchanged: line 2, 3, 5",
    ]


def test_confirmed_imports_need_and_keep_a_consent_note(workspace: Path) -> None:
    path = workspace / "list.csv"
    path.write_text(GOOD, encoding="utf-8")
    code, _, err = cli(workspace, "import", str(path), "--confirmed")
    assert code == 2
    assert "--confirmed needs --consent-note TEXT" in err
    note = "Đăng ký giấy tại Bộ phận Một cửa, 2021"
    code, out, _ = cli(workspace, "import", str(path), "--confirmed", "--consent-note", note)
    assert code == 0
    assert out.splitlines()[0] == f"{path}: added 3 subscribers (3 confirmed, 0 pending)"
    people, notes = asyncio.run(table_rows(workspace))
    assert {status for _, status in people} == {"confirmed"}
    assert notes == [("import", note)] * 3


def test_export_round_trips_through_import(workspace: Path, tmp_path: Path) -> None:
    path = workspace / "list.csv"
    path.write_text(GOOD, encoding="utf-8")
    cli(workspace, "import", str(path), "--confirmed", "--consent-note", "paper forms")
    code, exported, err = cli(workspace, "export")
    assert code == 0
    assert err == "exported 3 subscribers\n"
    assert exported == (
        "email,locale,topics,frequency,status\n"
        "lan@example.vn,vi,online-services;support-contacts,immediate,confirmed\n"
        "Hoa.Le@example.vn,en,covid-19-measures,weekly,confirmed\n"
        "tuan@example.vn,vi,one-stop-counters;commune-support,daily,confirmed\n"
    )
    # Into another workspace: the export is a valid import file, and comes back the same.
    other = copy_workspace(tmp_path / "other")
    out_file = workspace / "export.csv"
    assert cli(workspace, "export", "--out", str(out_file))[0] == 0
    assert out_file.read_text(encoding="utf-8") == exported
    code, out, err = cli(other, "import", str(out_file), "--confirmed", "--consent-note", "moved")
    assert (code, err) == (0, ""), out
    assert cli(other, "export")[1] == exported


async def test_bulk_import_skips_listed_and_suppressed_addresses_and_keeps_pending_rows(
    engine: AsyncEngine, store: SqlSubscriberStore
) -> None:
    await store.request(
        "known@example.vn",
        locale="en",
        topics=["support-contacts"],
        frequency=Frequency.WEEKLY,
        ip=None,
        form="web",
    )
    await store.suppress("gone@example.vn", "hard-bounce")
    rows = [
        CsvSubscriber(i + 2, f"person{i}@example.vn", "vi", ("online-services",), Frequency.DAILY)
        for i in range(2500)  # more than one insert batch
    ]
    rows[10] = CsvSubscriber(12, "KNOWN@example.vn", "vi", ("online-services",), Frequency.DAILY)
    rows[2400] = CsvSubscriber(2402, "gone@example.vn", "vi", ("x",), Frequency.DAILY)
    rows[5] = CsvSubscriber(
        7, "wait@example.vn", "vi", ("x",), Frequency.DAILY, SubscriberStatus.PENDING
    )
    done = await import_subscribers(engine, SECRET, rows, confirmed=True, note="forms")
    assert (done.already_listed, done.suppressed) == ([12], [2402])
    assert done.confirmed == 2497
    assert [(email, line) for _, email, line in done.needs_confirmation] == [
        ("wait@example.vn", "vi")
    ]
    exported = [row async for batch in export_subscribers(engine, batch=1000) for row in batch]
    assert len(exported) == 2499  # known (pending) + 2497 + wait (pending)
    assert exported[0] == ("known@example.vn", "en", ["support-contacts"], "weekly", "pending")
    with pytest.raises(ValueError, match="consent note"):
        await import_subscribers(engine, SECRET, rows, confirmed=True, note=" ")


async def test_importing_a_big_list_grows_linearly(engine: AsyncEngine) -> None:
    """Ten times the rows take about ten times as long, not a hundred (a scan per row);
    measured side by side, so a busy machine slows both alike. Speed itself: bench/."""

    def rows(count: int, prefix: str) -> list[CsvSubscriber]:
        return [
            CsvSubscriber(
                i + 2, f"{prefix}{i}@example.vn", "vi", ("online-services",), Frequency.DAILY
            )
            for i in range(count)
        ]

    async def timed(batch: list[CsvSubscriber]) -> float:
        started = time.perf_counter()
        done = await import_subscribers(engine, SECRET, batch, confirmed=True, note="forms")
        assert done.confirmed == len(batch)
        return time.perf_counter() - started

    small = await timed(rows(2_000, "small"))
    big = await timed(rows(20_000, "big"))
    assert big < 30 * small, f"{big:.1f}s for 20,000 rows, {small:.1f}s for 2,000"

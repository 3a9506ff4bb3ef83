"""Fields that become one line (a mail header, a feed or page title) refuse line breaks.

A title with CR/LF used to pass `check`, then `preview` and `publish` failed with a
traceback when the mail header was made. `check` reports it at its line, and every command
that loads the workspace refuses the same way, exit 1 and no traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.workspace.test_check import edit, line_of, run_check

BROADCASTER = Path(sys.executable).parent / "broadcaster"
VI = "campaigns/support-contacts/vi.md"
CAMPAIGN = "campaigns/support-contacts/campaign.yaml"
SINGLE_LINE = "must be a single line"


def broadcaster(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BROADCASTER_")}
    env["BROADCASTER_DATABASE_URL"] = f"sqlite+aiosqlite:///{root}/var/broadcaster.db"
    return subprocess.run(
        [str(BROADCASTER), *args, "--root", str(root)],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=120,
    )


def break_title(workspace: Path) -> str:
    """A title with an injected header after CR/LF (YAML escapes); the problem's prefix."""
    text = (workspace / VI).read_text(encoding="utf-8")
    title = next(line for line in text.splitlines() if line.startswith("title:"))
    edit(workspace, VI, title, 'title: "Đầu mối\\r\\nBcc: victim@example.org"')
    return f"{VI}:{line_of(workspace, VI, 'title:')}: title: {SINGLE_LINE}"


def test_check_reports_a_title_with_cr_lf_at_its_line(workspace: Path) -> None:
    expected = break_title(workspace)
    done = broadcaster(workspace, "check")
    assert done.returncode == 1
    assert expected in done.stderr
    assert "carriage return" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


@pytest.mark.parametrize(
    "command",
    [
        ("preview", "support-contacts"),
        ("preview", "support-contacts", "--out", "OUT"),
        ("publish", "support-contacts"),
    ],
    ids=["preview", "preview-out", "publish"],
)
def test_preview_and_publish_refuse_it_the_same_way(
    workspace: Path, tmp_path: Path, command: tuple[str, ...]
) -> None:
    expected = break_title(workspace)
    out = tmp_path / "out"
    done = broadcaster(workspace, *(str(out) if arg == "OUT" else arg for arg in command))
    assert done.returncode == 1
    assert expected in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert not out.exists()


def test_a_summary_in_a_literal_block_is_reported_at_its_key(workspace: Path) -> None:
    text = (workspace / VI).read_text(encoding="utf-8")
    summary = next(line for line in text.splitlines() if line.startswith("summary:"))
    edit(workspace, VI, summary, "summary: |\n  Dòng một.\n  Dòng hai.")
    code, _, err = run_check(workspace)
    assert code == 1
    line = line_of(workspace, VI, "summary:")
    assert f"{VI}:{line}: summary: {SINGLE_LINE}, but has a line break (\\n)" in err


@pytest.mark.parametrize(
    ("rel", "old", "new", "field"),
    [
        (CAMPAIGN, "{vi: UBND tỉnh Khánh Hòa,", '{vi: "UBND\\ntỉnh",', "issuer.vi"),
        (CAMPAIGN, "reference: 6176/UBND-KSTT", 'reference: "6176\\u2028UBND"', "reference"),
        (
            "campaigns/topics.yaml",
            "vi: Dịch vụ công trực tuyến",
            'vi: "Dịch vụ\\rcông"',
            "online-services.vi",
        ),
        (
            "channels/feeds.yaml",
            "vi: Thông báo dịch vụ công tỉnh Khánh Hòa",
            'vi: "Thông báo\\x85dịch vụ công"',
            "title.vi",
        ),
        ("channels/citizens.yaml", 'from: "UBND', 'from: "\\r\\nUBND', "from"),
        ("channels/citizens.yaml", 'list_id: "Thông', 'list_id: "\\nThông', "list_id"),
    ],
    ids=["issuer", "reference", "topic-name", "feed-title", "from", "list-id"],
)
def test_names_that_become_headers_or_feed_titles_are_one_line(
    workspace: Path, rel: str, old: str, new: str, field: str
) -> None:
    edit(workspace, rel, old, new)
    code, _, err = run_check(workspace)
    assert code == 1
    assert f"{rel}:{line_of(workspace, rel, new)}: {field}: {SINGLE_LINE}" in err


def test_an_environment_value_with_a_line_break_is_refused_in_a_header(workspace: Path) -> None:
    edit(workspace, "channels/citizens.yaml", 'from: "UBND', 'from: "${SENDER_NAME}UBND')
    code, _, err = run_check(workspace, env={"SENDER_NAME": "x\r\nBcc: victim@example.org\r\n"})
    assert code == 1
    line = line_of(workspace, "channels/citizens.yaml", "from:")
    assert f"channels/citizens.yaml:{line}: from: {SINGLE_LINE}" in err

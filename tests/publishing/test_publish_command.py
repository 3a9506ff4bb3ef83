"""`broadcaster publish --all` leaves out expired campaigns; `status` says what staff need."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from broadcaster.cli.main import main

EXPIRED = "one-stop-covid-measures"  # expires 2021-12-31 in the fixture workspace
CURRENT = ("online-submission", "support-contacts", "commune-support-points")


def _env(root: Path) -> dict[str, str]:
    return {
        "BROADCASTER_DATABASE_URL": f"sqlite+aiosqlite:///{root / 'var/db.sqlite'}",
        "BROADCASTER_BASE_URL": "http://broadcaster.test",
        "BROADCASTER_SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
    }


def _run(root: Path, *args: str) -> Result:
    result = CliRunner().invoke(main, [*args, "--root", str(root)], env=_env(root))
    assert "Traceback" not in result.output
    return result


def _published(root: Path) -> list[str]:
    report = json.loads(_run(root, "status", "--json").stdout)
    return sorted(item["campaign"] for item in report)


def test_publish_all_skips_expired_campaigns_and_says_so(workspace: Path) -> None:
    result = _run(workspace, "publish", "--all", "--wait")
    assert result.exit_code == 0, result.output
    assert f"skipped {EXPIRED}: it expired on 2021-12-31T23:59+07:00" in result.stderr
    assert "--include-expired" in result.stderr
    assert _published(workspace) == sorted(CURRENT)


def test_an_expired_campaign_goes_out_when_named_or_included(workspace: Path) -> None:
    named = _run(workspace, "publish", EXPIRED)
    assert named.exit_code == 0, named.output
    assert "skipped" not in named.output
    assert _published(workspace) == [EXPIRED]
    included = _run(workspace, "publish", "--all", "--include-expired")
    assert included.exit_code == 0, included.output
    assert "skipped" not in included.output
    assert _published(workspace) == sorted([EXPIRED, EXPIRED, *CURRENT])


def test_status_says_delivered_once_everything_is_delivered(workspace: Path) -> None:
    assert _run(workspace, "publish", "support-contacts", "--wait").exit_code == 0
    (item,) = json.loads(_run(workspace, "status", "--json").stdout)
    assert item["status"] == "delivered"
    text = _run(workspace, "status").stdout
    assert "delivered" in text.splitlines()[0]
    assert "enqueued" not in text

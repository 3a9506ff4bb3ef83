"""A new campaign starts from workspace.yaml's issuer and default topics, valid from today."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import yaml
from click.testing import CliRunner

from broadcaster.cli.main import main
from broadcaster.web.admin.editor import new_campaign
from broadcaster.workspace.load import load_workspace
from tests.web.admin.conftest import Staff

OFFICE = """approval: two-person
issuer: {vi: "UBND huyện Mẫu", en: "Sample District People's Committee"}
default_topics: [one-stop-counters, online-services]
"""


def test_the_defaults_come_from_workspace_yaml(workspace: Path) -> None:
    (workspace / "workspace.yaml").write_text(OFFICE, encoding="utf-8")
    loaded, diag = load_workspace(workspace)
    assert loaded is not None, diag
    files = new_campaign(loaded, datetime(2026, 12, 2, 16, 27, tzinfo=UTC))
    meta = yaml.safe_load(files["campaign.yaml"])
    assert meta["issuer"] == {"vi": "UBND huyện Mẫu", "en": "Sample District People's Committee"}
    assert meta["topics"] == ["one-stop-counters", "online-services"]
    # 23:27 in Vietnam is already 2 December there: valid from that local midnight.
    assert "valid_from: 2026-12-02T00:00:00+07:00" in files["campaign.yaml"]


def test_an_unknown_default_topic_is_a_check_error_at_its_line(workspace: Path) -> None:
    (workspace / "workspace.yaml").write_text(
        OFFICE.replace("online-services]", "online-service]"), encoding="utf-8"
    )
    result = CliRunner().invoke(main, ["check", "--root", str(workspace)])
    assert result.exit_code == 1
    assert "workspace.yaml:3: unknown topic 'online-service' in default_topics" in result.stderr


async def test_a_campaign_created_in_the_pages_is_valid_from_today(staff: Staff) -> None:
    await staff.api("POST", "/campaigns", "ana", {"id": "new-notice"}, status=201)
    body = await staff.api("GET", "/campaigns/new-notice", "ana", status=200)
    today = datetime.now(staff.service.workspace.timezone).date().isoformat()
    assert f"valid_from: {today}T00:00:00+07:00" in body["files"]["campaign.yaml"]
    assert "2021-07-09" not in body["files"]["campaign.yaml"]
    assert body["problems"] == []

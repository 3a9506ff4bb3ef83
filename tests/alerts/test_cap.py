"""CAP documents built from a publication, without the service: every combination of
settings validates against the OASIS schema."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner
from lxml import etree

from broadcaster.alerts.cap import alert_element
from broadcaster.alerts.messages import Published, messages
from broadcaster.cli.main import main
from broadcaster.text.notice import Notice, NoticeKind
from broadcaster.text.render import Publication
from broadcaster.workspace.alerts import Alert, AlertArea, AlertFile
from broadcaster.workspace.models import Workspace
from tests.alerts.conftest import AREA, CAP, XSD

SCHEMA = etree.XMLSchema(etree.fromstring(XSD.read_bytes()))
AT = datetime(2021, 7, 10, 1, tzinfo=UTC)


def _publication(workspace: Workspace, campaign_id: str, alert: Alert) -> Publication:
    campaign = replace(workspace.campaigns[campaign_id], alert=alert)
    return Publication.prepare(workspace, campaign, "https://thongbao.example.gov.vn", AT)


def test_settings_defaults_and_a_withdrawal_all_validate(loaded_workspace: Workspace) -> None:
    settings = AlertFile(
        category=["Health", "Safety"],
        event={"vi": "Phòng, chống dịch", "en": "Epidemic prevention"},
        severity="Minor",
        response_type=["Prepare", "Monitor"],
        status="Exercise",
    )
    first = _publication(loaded_workspace, "support-contacts", Alert.of(settings, urgent=False))
    notice = Notice(NoticeKind.WITHDRAWAL, reason="Hết hiệu lực")
    withdrawn = replace(first, notice=notice)
    history = [Published(7, False, AT, first), Published(9, True, AT, withdrawn)]
    made = messages(history, "thongbao.example.gov.vn", "thongbao.example.gov.vn", UTC)
    assert [m.msg_type for m in made] == ["Alert", "Cancel"]
    for area in (None, AlertArea("s", {"vi": "Tỉnh Khánh Hòa"}, (("ma-tinh", "56"),), ())):
        for message in made:
            element = alert_element(message, area)
            SCHEMA.assertValid(element)
    alert = alert_element(made[0], None)
    assert alert.findtext(f"{{{CAP}}}status") == "Exercise"
    assert alert.findtext(f"{{{CAP}}}identifier") == "thongbao.example.gov.vn.support-contacts.7"
    assert alert.findtext(f"{{{CAP}}}sent") == "2021-07-10T01:00:00-00:00"
    info = alert.find(f"{{{CAP}}}info")
    assert info is not None
    assert [c.text for c in info.findall(f"{{{CAP}}}category")] == ["Health", "Safety"]
    assert info.findtext(f"{{{CAP}}}event") == "Phòng, chống dịch"
    assert info.findtext(f"{{{CAP}}}urgency") == "Expected"  # the default, not urgent
    assert "0258 000 0001" in (info.findtext(f"{{{CAP}}}contact") or "")
    cancel = alert_element(made[1], None)
    assert cancel.findtext(f"{{{CAP}}}note") == "Hết hiệu lực"
    assert cancel.findtext(f"{{{CAP}}}references") == made[0].reference


def test_a_reminder_of_the_same_revision_makes_no_message(loaded_workspace: Workspace) -> None:
    first = _publication(loaded_workspace, "online-submission", Alert.of(None, urgent=True))
    history = [Published(1, False, AT, first), Published(2, False, AT, first)]
    assert len(messages(history, "s", "h", UTC)) == 1


def test_preview_out_writes_the_alert_as_cap_xml(workspace: Path, tmp_path: Path) -> None:
    with (workspace / "workspace.yaml").open("a", encoding="utf-8") as settings:
        settings.write(AREA)
    out = tmp_path / "out"
    env = {"BROADCASTER_BASE_URL": "https://thongbao.example.gov.vn"}
    root = ["--root", str(workspace)]
    result = CliRunner(env=env).invoke(
        main, ["preview", "online-submission", *root, "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert f"wrote {out / 'cap.xml'}" in result.output
    alert = etree.parse(out / "cap.xml").getroot()
    SCHEMA.assertValid(alert)
    assert (
        alert.findtext(f"{{{CAP}}}identifier")
        == "thongbao.example.gov.vn.online-submission.preview"
    )
    assert alert.findtext(f"{{{CAP}}}sender") == "thongbao@example.gov.vn"
    assert alert.findtext(f"{{{CAP}}}msgType") == "Alert"
    languages = [info.findtext(f"{{{CAP}}}language") for info in alert.iter(f"{{{CAP}}}info")]
    assert languages == ["vi-VN", "en-US"]
    web = alert.findtext(f"{{{CAP}}}info/{{{CAP}}}web")
    assert web == "https://thongbao.example.gov.vn/vi/online-submission/"
    assert alert.findtext(f"{{{CAP}}}info/{{{CAP}}}area/{{{CAP}}}areaDesc") == "Tỉnh Khánh Hòa"
    # Not an alert, or only some channels: no cap.xml.
    for args in (["support-contacts"], ["online-submission", "--channel", "website"]):
        other = tmp_path / args[-1]
        result = CliRunner(env=env).invoke(main, ["preview", *args, *root, "--out", str(other)])
        assert result.exit_code == 0, result.output
        assert not (other / "cap.xml").exists()

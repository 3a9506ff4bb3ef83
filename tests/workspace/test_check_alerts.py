"""`check` on public alert settings: CAP's own vocabularies, a closed polygon, an area."""

from __future__ import annotations

from pathlib import Path

from tests.workspace.test_check import edit, line_of, run_check, write

CAMPAIGN = "campaigns/support-contacts/campaign.yaml"


def test_alert_settings_outside_cap_vocabularies_are_named_at_their_line(
    workspace: Path,
) -> None:
    edit(
        workspace,
        CAMPAIGN,
        "priority: normal",
        "priority: normal\nalert:\n  category: Heath\n  urgency: Now\n  severty: Minor",
    )
    write(
        workspace,
        "workspace.yaml",
        "approval: none\nalerts:\n  area: {vi: Tỉnh Khánh Hòa}\n"
        '  polygons: ["12.0,108.6 12.9,108.6 12.9,109.5 12.0,109.5"]\n',
    )
    code, _, err = run_check(workspace)
    assert code == 1
    assert f"{CAMPAIGN}:{line_of(workspace, CAMPAIGN, 'Heath')}: alert.category" in err
    assert "'Health'" in err
    assert f"{CAMPAIGN}:{line_of(workspace, CAMPAIGN, 'urgency')}: alert.urgency" in err
    assert f"{CAMPAIGN}:{line_of(workspace, CAMPAIGN, 'severty')}: unknown key 'severty'" in err
    assert "must end where it starts" in err


def test_a_campaign_with_alert_settings_passes(workspace: Path) -> None:
    edit(
        workspace,
        CAMPAIGN,
        "priority: normal",
        "priority: normal\nalert: {category: [Health, Safety], severity: Minor, status: Exercise}",
    )
    write(workspace, "workspace.yaml", "approval: none\nalerts:\n  area: {vi: Tỉnh Khánh Hòa}\n")
    code, _, err = run_check(workspace)
    assert code == 0, err


def test_alerts_without_an_area_are_a_warning_naming_the_campaigns(workspace: Path) -> None:
    write(workspace, "workspace.yaml", "approval: none\n")
    code, _, err = run_check(workspace)
    assert code == 0
    assert (
        "workspace.yaml:1: warning: one-stop-covid-measures, online-submission also go out "
        "as public alerts (CAP), without an area" in err
    )

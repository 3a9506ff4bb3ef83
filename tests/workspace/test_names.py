"""Ids and names are whole-string matches: a trailing newline ("evil\\n") is refused.

`re.match` with `$` accepts a newline before the end of the string; every id and name
pattern is checked with `fullmatch`. Here: campaign folders, locale and channel files, as
`check` sees them (admin ids and user names: tests/web/admin/test_names.py; partner names:
tests/partners/test_commands.py).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.workspace.test_check import run_check

EVIL = "evil\n"


def test_a_campaign_folder_with_a_newline_in_its_name_is_refused(workspace: Path) -> None:
    shutil.copytree(workspace / "campaigns/support-contacts", workspace / "campaigns" / EVIL)
    code, out, err = run_check(workspace)
    assert code == 1
    assert "campaigns/evil\n:1: a campaign folder name uses lowercase letters" in err
    assert "campaign evil" not in out


def test_a_locale_or_channel_file_with_a_newline_in_its_name_is_refused(
    workspace: Path,
) -> None:
    campaign = workspace / "campaigns/support-contacts"
    (campaign / "en.md").rename(campaign / "en\n.md")
    (workspace / "channels/feeds.yaml").rename(workspace / "channels" / "feeds\n.yaml")
    code, _, err = run_check(workspace)
    assert code == 1
    assert "campaigns/support-contacts/en\n.md:1: the name has a line break" in err
    assert "channels/feeds\n.yaml:1: a channel name uses lowercase letters" in err

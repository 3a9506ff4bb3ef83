"""Campaign ids from the admin API and staff user names: "evil\\n" is refused, not created."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from broadcaster.cli.main import main
from tests.web.admin.conftest import Staff, two_person_workspace
from tests.web.admin.test_commands import _env as users_env

EVIL = "evil\n"


async def test_the_admin_api_refuses_a_campaign_id_with_a_newline(staff: Staff) -> None:
    response = await staff.client.post(
        "/admin/api/campaigns",
        json={"id": EVIL},
        headers={"Authorization": f"Bearer {staff.tokens['ana']}"},
    )
    assert response.status == 422, await response.text()
    assert "use lowercase letters, digits and '-'" in (await response.json())["error"]
    assert not (staff.service.settings.root / "campaigns" / EVIL).exists()


def test_a_user_name_with_a_newline_is_refused(tmp_path: Path) -> None:
    root = two_person_workspace(tmp_path / "ws")
    result = CliRunner().invoke(
        main,
        ["users", "add", "lan\n", "--role", "author", "--root", str(root)],
        env=users_env(root),
    )
    assert result.exit_code != 0
    assert "use 2-40 lowercase letters" in result.output
    assert "Traceback" not in result.output

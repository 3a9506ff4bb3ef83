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


async def test_a_title_with_cr_lf_saved_from_the_api_is_reported_not_a_500(staff: Staff) -> None:
    """Saved as written (the files are the source of truth); the problem is reported at its
    line; preview shows the last good revision and publishing the broken one is refused."""
    body = await staff.api("GET", "/campaigns/online-submission", "ana", status=200)
    files = dict(body["files"])
    title = next(line for line in files["vi.md"].splitlines() if line.startswith("title:"))
    files["vi.md"] = files["vi.md"].replace(title, 'title: "Nộp hồ sơ\\r\\nBcc: x@example.org"')
    saved = await staff.api(
        "PUT",
        "/campaigns/online-submission",
        "ana",
        {"revision": body["revision"], "files": files},
        status=200,
    )
    read = await staff.api("GET", "/campaigns/online-submission", "ana", status=200)
    assert any(
        "campaigns/online-submission/vi.md:2: title: must be a single line" in str(problem)
        for problem in read["problems"]
    ), read["problems"]
    preview = await staff.client.get(
        "/admin/api/campaigns/online-submission/preview",
        headers={"Authorization": f"Bearer {staff.tokens['ana']}"},
    )
    assert preview.status == 200
    shown = await preview.json()
    assert shown["revision"] == body["revision"] != saved["revision"]
    assert "Bcc: x@example.org" not in await preview.text()
    publish = await staff.client.post(
        "/admin/api/campaigns/online-submission/publications",
        json={"revision": saved["revision"]},
        headers={"Authorization": f"Bearer {staff.tokens['binh']}"},
    )
    assert 400 <= publish.status < 500, await publish.text()

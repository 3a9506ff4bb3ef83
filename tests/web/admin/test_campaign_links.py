"""The staff editor never shows what a link out of a campaign folder points at."""

from __future__ import annotations

from pathlib import Path

from tests.web.admin.conftest import Staff

SECRET = "BROADCASTER_SECRET_KEY=do-not-show-0123456789"


async def test_the_editor_does_not_read_a_locale_file_linked_out(
    staff: Staff, tmp_path: Path
) -> None:
    secret = tmp_path / "environ"
    secret.write_text(SECRET, encoding="utf-8")
    en = staff.service.settings.root / "campaigns/online-submission/en.md"
    en.unlink()
    en.symlink_to(secret)
    body = await staff.api("GET", "/campaigns/online-submission", "ana", status=200)
    assert body["files"]["en.md"] == ""
    assert SECRET not in str(body)
    assert any(
        "campaigns/online-submission/en.md:1: a link to " in str(p) for p in body["problems"]
    ), body["problems"]

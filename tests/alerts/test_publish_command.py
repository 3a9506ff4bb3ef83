"""`broadcaster publish --correction`: staff choose from the command line whether a new
revision of a campaign already out is emailed (material) or not (minor)."""

from __future__ import annotations

import re
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

from click.testing import CliRunner

from broadcaster.cli.main import main
from tests.alerts.conftest import edit
from tests.web.admin.conftest import BASE_URL, two_person_workspace


def _run(root: Path, env: dict[str, str], *args: str) -> str:
    result = CliRunner().invoke(main, [*args, "--root", str(root)], env=env)
    assert result.exit_code == 0, result.output
    return result.output


def _mailed(root: Path) -> list[Path]:
    return sorted((root / "var/mail/new").glob("*"))


def test_publish_correction_minor_sends_no_email_and_material_does(tmp_path: Path) -> None:
    root = two_person_workspace(tmp_path / "ws")
    (root / "workspace.yaml").write_text("approval: none\n", encoding="utf-8")
    env = {
        "BROADCASTER_DATABASE_URL": f"sqlite+aiosqlite:///{root / 'var/db.sqlite'}",
        "BROADCASTER_BASE_URL": BASE_URL,
        "BROADCASTER_SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
    }
    people = tmp_path / "people.csv"
    people.write_text(
        "email,locale,topics,frequency\nlan@example.vn,vi,online-services,immediate\n"
    )
    note = "Đồng ý trên mẫu giấy tại Bộ phận Một cửa, 01/7/2021"
    _run(root, env, "subscribers", "import", str(people), "--confirmed", "--consent-note", note)
    publish = ["publish", "online-submission", "--channels", "citizens", "--wait"]
    _run(root, env, *publish)
    assert len(_mailed(root)) == 1

    edit(root, "vi", "Bộ phận Một cửa", "Bộ phận Một cửa các cấp", "Sửa lỗi chính tả.")
    out = _run(root, env, *publish, "--correction", "minor")
    assert re.search(r"created, 0 deliveries", out)
    assert len(_mailed(root)) == 1

    edit(root, "vi", "các cấp", "các cấp, kể cả cấp xã", "Bổ sung cấp xã.")
    _run(root, env, *publish, "--correction", "material")
    mailed = _mailed(root)
    assert len(mailed) == 2
    message = message_from_bytes(mailed[-1].read_bytes(), policy=default)
    assert isinstance(message, EmailMessage)
    assert str(message["Subject"]).startswith("[KHẨN] [Đã cập nhật] ")
    body = message.get_body(("plain",))
    assert body is not None
    assert "Nội dung thay đổi: Bổ sung cấp xã." in str(body.get_content())

    refused = CliRunner().invoke(main, [*publish, "--correction", "big", "--root", str(root)])
    assert refused.exit_code == 2
    assert "'big' is not one of 'material', 'minor'" in refused.output

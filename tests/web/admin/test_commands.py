"""`broadcaster users ...` and `status` with a held publication, as an operator runs them."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner

from broadcaster.cli.main import main
from broadcaster.staff.reviews import ReviewStore
from broadcaster.store import create_engine, upgrade_engine
from tests.web.admin.conftest import BASE_URL, settings_for, two_person_workspace


def _env(root: Path) -> dict[str, str]:
    return {
        "BROADCASTER_DATABASE_URL": settings_for(root).database_url,
        "BROADCASTER_BASE_URL": BASE_URL,
    }


def test_users_add_list_reset_token_disable(tmp_path: Path) -> None:
    root = two_person_workspace(tmp_path / "ws")
    run = CliRunner()

    def users(*args: str) -> tuple[int, str]:
        result = run.invoke(main, ["users", *args, "--root", str(root)], env=_env(root))
        return result.exit_code, result.output

    code, out = users("add", "lan", "--role", "author", "--email", "lan@example.gov.vn")
    assert code == 0
    assert re.search(rf"{BASE_URL}/admin/setup/\S{{20,}}", out)
    assert "valid 72 hours" in out
    code, out = users("add", "lan", "--role", "author")
    assert code == 2
    assert "a user named 'lan' already exists" in out
    code, out = users("add", "x", "--role", "boss")
    assert code == 2
    assert "'boss' is not one of 'author', 'approver', 'admin'" in out
    code, out = users("list")
    assert re.search(r"lan\s+author\s+waiting for setup\s+lan@example.gov.vn", out)
    code, out = users("reset", "lan")
    assert "/admin/setup/" in out
    code, out = users("token", "lan", "--role", "admin")
    assert code == 2
    assert "cannot have more" in out
    code, out = users("token", "lan")
    assert out.strip().startswith("bc_")
    code, out = users("role", "lan", "approver")
    assert out.strip() == "lan is now approver"
    code, out = users("disable", "lan")
    assert code == 0
    assert re.search(r"lan\s+approver\s+disabled", users("list")[1])
    code, out = users("reset", "nobody")
    assert code == 2
    assert "no user named 'nobody'" in out


def test_status_lists_a_held_publication(tmp_path: Path) -> None:
    root = two_person_workspace(tmp_path / "ws")

    async def hold() -> None:
        engine = create_engine(settings_for(root).database_url)
        try:
            await upgrade_engine(engine)
            await ReviewStore(engine).hold(
                "support-contacts",
                "0123456789abcdef",
                "support-contacts-launch",
                datetime(2021, 7, 12, 7, tzinfo=UTC),
                ["website"],
            )
        finally:
            await engine.dispose()

    (root / "var").mkdir()
    asyncio.run(hold())
    result = CliRunner().invoke(main, ["status", "--root", str(root)], env=_env(root))
    assert result.exit_code == 0
    assert "support-contacts" in result.output
    assert "held: not approved, not sent" in result.output
    as_json = CliRunner().invoke(main, ["status", "--json", "--root", str(root)], env=_env(root))
    assert '"status": "held"' in as_json.output

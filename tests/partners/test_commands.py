"""`broadcaster partners ...` as an operator types it: messages, exit codes, secrets shown once."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from broadcaster.cli.main import main
from tests.partners.conftest import use_test_channel

KEY = "test-secret-key-test-secret-key-0123456789"
SECRET = re.compile(r"whsec_[A-Za-z0-9+/]{43}=")


def run(root: Path, *args: str) -> Result:
    env = {
        "BROADCASTER_DATABASE_URL": f"sqlite+aiosqlite:///{root / 'var/db.sqlite'}",
        "BROADCASTER_SECRET_KEY": KEY,
    }
    return CliRunner().invoke(main, ["partners", *args, "--root", str(root)], env=env)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://127.0.0.1/hook", "127.0.0.1 is a loopback address"),
        ("https://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
        ("https://10.0.0.1/hook", "10.0.0.1 is a private address"),
        ("https://[::1]:8443/hook", "::1 is a loopback address"),
        ("https://[fd00::1]/hook", "fd00::1 is a unique-local address"),
        ("https://localhost/hook", "localhost resolves to"),
        # IPv6 forms that carry an IPv4 address are judged by it.
        ("https://[::127.0.0.1]/hook", "carrying 127.0.0.1, a loopback address"),
        ("https://[64:ff9b::7f00:1]/hook", "carrying 127.0.0.1, a loopback address"),
        ("https://[2002:7f00:1::1]/hook", "carrying 127.0.0.1, a loopback address"),
        ("https://[::ffff:0:7f00:1]/hook", "carrying 127.0.0.1, a loopback address"),
        ("https://[64:ff9b::a9fe:a9fe]/hook", "carrying 169.254.169.254, a link-local"),
    ],
)
def test_private_endpoints_are_refused_with_the_fix(workspace: Path, url: str, reason: str) -> None:
    result = run(workspace, "add", "baokh", "--url", url)
    assert result.exit_code == 1
    assert reason in result.output
    assert "allow_networks" in result.output
    assert "Traceback" not in result.output
    assert "no partners yet" in run(workspace, "list").output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--url", "ftp://newsroom.example.vn/"], "is not an https URL"),
        (["--url", "not a url"], "is not an https URL"),
        (["--url", "http://8.8.8.8/hook"], "plain http is accepted only inside allow_networks"),
        (["--url", "https://8.8.8.8/", "--topics", "weather"], "unknown topic weather"),
        (["--url", "https://8.8.8.8/", "--locales", "fr"], "unknown locale fr: use vi, en"),
    ],
)
def test_bad_arguments_name_the_problem(workspace: Path, args: list[str], message: str) -> None:
    result = run(workspace, "add", "baokh", *args)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


def test_secret_is_printed_once_and_stored_encrypted(workspace: Path) -> None:
    use_test_channel(workspace)
    added = run(
        workspace, "add", "baokh", "--url", "http://127.0.0.1:9/hook", "--topics", "online-services"
    )
    assert added.exit_code == 0, added.output
    (secret,) = SECRET.findall(added.output)
    for command in (["list"], ["show", "baokh"], ["deliveries", "baokh"]):
        shown = run(workspace, *command)
        assert shown.exit_code == 0, shown.output
        assert "whsec_" not in shown.output
    assert "baokh" in run(workspace, "list").output
    assert "online-services / all locales" in run(workspace, "list").output
    database = (workspace / "var" / "db.sqlite").read_bytes()
    assert secret.encode() not in database
    assert secret.removeprefix("whsec_")[:16].encode() not in database

    again = run(workspace, "add", "baokh", "--url", "http://127.0.0.1:9/other")
    assert again.exit_code == 1
    assert "a partner named 'baokh' exists already" in again.output

    rotated = run(workspace, "rotate-secret", "baokh")
    assert rotated.exit_code == 0
    (new,) = SECRET.findall(rotated.output)
    assert new != secret
    assert "previous secret also signs until" in rotated.output
    assert "previous secret also signs until" in run(workspace, "show", "baokh").output


def test_disable_enable_remove_and_unknown_names(workspace: Path) -> None:
    use_test_channel(workspace)
    assert run(workspace, "add", "ktv", "--url", "http://127.0.0.1:9/hook").exit_code == 0
    assert "disabled partner ktv" in run(workspace, "disable", "ktv").output
    assert "disabled (disabled by staff)" in run(workspace, "list").output
    assert "enabled partner ktv" in run(workspace, "enable", "ktv").output
    missing = run(workspace, "show", "vtv")
    assert missing.exit_code == 1
    assert "no partner named 'vtv' (registered: ktv)" in missing.output
    assert "removed partner ktv" in run(workspace, "remove", "ktv").output
    assert "no partners yet" in run(workspace, "list").output
    replay = run(workspace, "replay", "42")
    assert replay.exit_code == 1
    assert "no webhook delivery 42" in replay.output
    bad_name = run(workspace, "add", "Báo KH", "--url", "http://127.0.0.1:9/")
    assert bad_name.exit_code == 1
    assert "use lower-case letters" in bad_name.output


def test_a_partner_name_with_a_newline_is_refused(workspace: Path) -> None:
    """A whole-string match: "baokh\\n" is not the name baokh."""
    result = run(workspace, "add", "baokh\n", "--url", "https://8.8.8.8/hook")
    assert result.exit_code != 0
    assert "use lower-case letters" in result.output
    assert "no partners yet" in run(workspace, "list").output

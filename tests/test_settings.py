"""The secret key: from the environment, or generated once into var/secret_key."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from broadcaster.settings import SECRET_KEY_FILE, Settings, SettingsError, secret_key


def test_the_key_is_generated_once_with_mode_0600(tmp_path: Path) -> None:
    key = secret_key(tmp_path, {})
    path = tmp_path / SECRET_KEY_FILE
    assert len(key) == 32
    assert path.read_bytes() == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert secret_key(tmp_path, {}) == key
    assert [p.name for p in path.parent.iterdir()] == ["secret_key"]  # no temporary left


def test_a_second_process_racing_to_create_the_key_uses_the_first(tmp_path: Path) -> None:
    path = tmp_path / SECRET_KEY_FILE
    path.parent.mkdir()
    winner = os.urandom(32)
    path.write_bytes(winner)
    assert secret_key(tmp_path, {}) == winner


def test_the_environment_wins_and_must_be_long_enough(tmp_path: Path) -> None:
    assert secret_key(tmp_path, {"BROADCASTER_SECRET_KEY": "k" * 32}) == b"k" * 32
    assert not (tmp_path / SECRET_KEY_FILE).exists()
    with pytest.raises(SettingsError, match="BROADCASTER_SECRET_KEY is 5 characters long"):
        secret_key(tmp_path, {"BROADCASTER_SECRET_KEY": "short"})


def test_a_truncated_key_file_is_an_error_not_a_new_key(tmp_path: Path) -> None:
    path = tmp_path / SECRET_KEY_FILE
    path.parent.mkdir()
    path.write_bytes(b"x" * 10)
    with pytest.raises(SettingsError, match="secret_key: the secret key is 10 bytes long"):
        secret_key(tmp_path, {})
    assert path.read_bytes() == b"x" * 10


def test_settings_expose_the_key(tmp_path: Path) -> None:
    settings = Settings.from_environ(tmp_path, {})
    assert settings.secret_key == (tmp_path / SECRET_KEY_FILE).read_bytes()
    configured = Settings.from_environ(tmp_path, {"BROADCASTER_SECRET_KEY": "e" * 40})
    assert configured.secret_key == b"e" * 40


def test_alert_signing_needs_both_files_and_names_a_missing_one(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="set both BROADCASTER_CAP_KEY_FILE"):
        Settings.from_environ(tmp_path, {"BROADCASTER_CAP_KEY_FILE": "var/key.pem"})
    (tmp_path / "key.pem").write_text("x")
    environ = {"BROADCASTER_CAP_KEY_FILE": "key.pem", "BROADCASTER_CAP_CERT_FILE": "cert.pem"}
    with pytest.raises(SettingsError, match=r"BROADCASTER_CAP_CERT_FILE='cert.pem': no such file"):
        Settings.from_environ(tmp_path, environ)
    (tmp_path / "cert.pem").write_text("x")
    settings = Settings.from_environ(tmp_path, environ)
    assert settings.cap_cert_file == tmp_path.resolve() / "cert.pem"

"""The secret key that signs subscriber links and keys the hashes of suppressed addresses.

Keep it stable: changing it invalidates every link in mails already sent, and makes
every suppression (kept only as a keyed hash) stop matching its address.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from broadcaster.settings import SettingsError

SECRET_KEY_ENV = "BROADCASTER_SECRET_KEY"  # noqa: S105  (a variable name, not a secret)
SECRET_KEY_FILE = Path("var") / "secret_key"
MIN_LENGTH = 32  # characters from the environment, bytes in the file


def secret_key(settings_root: Path, environ: Mapping[str, str]) -> bytes:
    """BROADCASTER_SECRET_KEY, else `var/secret_key`, generated (32 random bytes) if absent."""
    configured = environ.get(SECRET_KEY_ENV)
    if configured:
        if len(configured) < MIN_LENGTH:
            raise SettingsError(
                f"{SECRET_KEY_ENV} is {len(configured)} characters long: use at least "
                f"{MIN_LENGTH}, e.g. the output of `python3 -c 'import secrets; "
                "print(secrets.token_urlsafe(32))'`"
            )
        return configured.encode()
    path = settings_root / SECRET_KEY_FILE
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    return _create(path)


def _read(path: Path) -> bytes:
    key = path.read_bytes()
    if len(key) < MIN_LENGTH:
        raise SettingsError(
            f"{path}: the secret key is {len(key)} bytes long, at least {MIN_LENGTH} are "
            f"needed; set {SECRET_KEY_ENV} or restore the file from a backup (deleting it "
            "makes a new key, which breaks every link already mailed)"
        )
    return key


def _create(path: Path) -> bytes:
    """Write a new key atomically: only a complete file ever appears at `path`.

    The key is written to a private temporary file, then hard-linked into place, which
    fails if another process got there first; that process's key is then used.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(MIN_LENGTH)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(key)
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            return _read(path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
    return key

"""Settings from the environment: the only module that reads os.environ.

The secret key (`Settings.secret_key`) signs subscriber links and keys the hashes of
suppressed addresses. Keep it stable: changing it invalidates every link in mails already
sent, and makes every suppression (kept only as a keyed hash) stop matching its address.
"""

from __future__ import annotations

import contextlib
import functools
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path

DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"
DEFAULT_LISTEN = "127.0.0.1:8080"


class SettingsError(ValueError):
    """An environment variable with a value Broadcaster cannot use."""


def _number(env: Mapping[str, str], name: str, default: float, minimum: float = 0) -> float:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a number") from None
    if value < minimum:
        raise SettingsError(f"{name}={raw!r} must be at least {minimum:g}")
    return value


Network = IPv4Network | IPv6Network


def _networks(env: Mapping[str, str], name: str) -> tuple[Network, ...]:
    networks: list[Network] = []
    for entry in (env.get(name) or "").replace(",", " ").split():
        try:
            networks.append(ip_network(entry, strict=False))
        except ValueError:
            raise SettingsError(
                f"{name}: {entry!r} is not an address or network; write them separated by "
                "commas, like 127.0.0.1, 10.0.0.0/8, ::1"
            ) from None
    return tuple(networks)


@dataclass(frozen=True)
class Settings:
    """Process-wide settings; every field has a default that works on a fresh machine."""

    root: Path
    base_url: str
    listen: str = DEFAULT_LISTEN
    database_url: str = ""
    timezone: str = DEFAULT_TIMEZONE
    catch_up_grace: timedelta = timedelta(hours=6)
    shutdown_timeout: float = 30.0
    workers: int = 4
    # How long a worker holds a claimed delivery before another process may take it over.
    lease_seconds: float = 60.0
    log_format: str = "text"
    # Reverse proxies whose X-Forwarded-For names the visitor (web/forwarded.py); none
    # by default, so the header is ignored and cannot be used to dodge per-IP limits.
    trusted_proxies: tuple[Network, ...] = ()
    # /metrics: a bearer token it requires (none: open), and an address of its own
    # (none: the service's own address, beside the site).
    metrics_token: str = field(default="", repr=False)
    metrics_listen: str = ""
    # PEM files (relative to the workspace) that sign public alerts (XML-DSig); unset:
    # alerts go out unsigned.
    cap_key_file: Path | None = None
    cap_cert_file: Path | None = None
    # The environment `${VAR}` references in channel files are resolved against.
    environ: Mapping[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def from_environ(cls, root: Path, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings for the workspace at `root` from `environ` (default: os.environ)."""
        env = dict(os.environ if environ is None else environ)
        root = root.resolve()
        listen = env.get("BROADCASTER_LISTEN") or DEFAULT_LISTEN
        base_url = env.get("BROADCASTER_BASE_URL") or f"http://{listen}"
        database_url = (
            env.get("BROADCASTER_DATABASE_URL")
            or f"sqlite+aiosqlite:///{root / 'var' / 'broadcaster.db'}"
        )
        log_format = env.get("BROADCASTER_LOG_FORMAT") or "text"
        if log_format not in ("text", "json"):
            raise SettingsError(f"BROADCASTER_LOG_FORMAT={log_format!r}: use text or json")
        key_file, cert_file = (
            env.get("BROADCASTER_CAP_KEY_FILE"),
            env.get("BROADCASTER_CAP_CERT_FILE"),
        )
        if bool(key_file) != bool(cert_file):
            raise SettingsError(
                "set both BROADCASTER_CAP_KEY_FILE and BROADCASTER_CAP_CERT_FILE to sign public "
                "alerts (the private key and its certificate, PEM), or neither"
            )
        files = (("BROADCASTER_CAP_KEY_FILE", key_file), ("BROADCASTER_CAP_CERT_FILE", cert_file))
        for variable, value in files:
            if value and not (root / value).is_file():
                raise SettingsError(
                    f"{variable}={value!r}: no such file ({root / value}); "
                    "name a PEM file, relative to the workspace or absolute"
                )
        return cls(
            root=root,
            base_url=base_url.rstrip("/"),
            listen=listen,
            database_url=database_url,
            timezone=env.get("BROADCASTER_TIMEZONE") or DEFAULT_TIMEZONE,
            catch_up_grace=timedelta(hours=_number(env, "BROADCASTER_CATCH_UP_HOURS", 6.0)),
            shutdown_timeout=_number(env, "BROADCASTER_SHUTDOWN_TIMEOUT", 30.0),
            workers=int(_number(env, "BROADCASTER_WORKERS", 4, minimum=1)),
            lease_seconds=_number(env, "BROADCASTER_LEASE_SECONDS", 60.0, minimum=1),
            log_format=log_format,
            trusted_proxies=_networks(env, "BROADCASTER_TRUSTED_PROXIES"),
            metrics_token=env.get("BROADCASTER_METRICS_TOKEN") or "",
            metrics_listen=env.get("BROADCASTER_METRICS_LISTEN") or "",
            cap_key_file=root / key_file if key_file else None,
            cap_cert_file=root / cert_file if cert_file else None,
            environ=env,
        )

    @property
    def host_port(self) -> tuple[str, int]:
        """`listen` split into host and port."""
        return _host_port("BROADCASTER_LISTEN", self.listen, "127.0.0.1:8080")

    @property
    def metrics_host_port(self) -> tuple[str, int] | None:
        """`metrics_listen` split into host and port; None: /metrics is on `listen`."""
        if not self.metrics_listen:
            return None
        return _host_port("BROADCASTER_METRICS_LISTEN", self.metrics_listen, "127.0.0.1:9108")

    @functools.cached_property
    def secret_key(self) -> bytes:
        """BROADCASTER_SECRET_KEY, else `var/secret_key` (generated on first use, mode 0600)."""
        return secret_key(self.root, self.environ)


def _host_port(name: str, value: str, example: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    try:
        return host.strip("[]") or "127.0.0.1", int(port)
    except ValueError:
        raise SettingsError(f"{name}={value!r}: write HOST:PORT, like {example}") from None


SECRET_KEY_ENV = "BROADCASTER_SECRET_KEY"  # noqa: S105  (a variable name, not a secret)
SECRET_KEY_FILE = Path("var") / "secret_key"
SECRET_KEY_MIN_LENGTH = 32  # characters from the environment, bytes in the file


def secret_key(settings_root: Path, environ: Mapping[str, str]) -> bytes:
    """BROADCASTER_SECRET_KEY, else `var/secret_key`, generated (32 random bytes) if absent."""
    configured = environ.get(SECRET_KEY_ENV)
    if configured:
        if len(configured) < SECRET_KEY_MIN_LENGTH:
            raise SettingsError(
                f"{SECRET_KEY_ENV} is {len(configured)} characters long: use at least "
                f"{SECRET_KEY_MIN_LENGTH}, e.g. the output of `python3 -c 'import secrets; "
                "print(secrets.token_urlsafe(32))'`"
            )
        return configured.encode()
    path = settings_root / SECRET_KEY_FILE
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    return _create_key(path)


def _read_key(path: Path) -> bytes:
    key = path.read_bytes()
    if len(key) < SECRET_KEY_MIN_LENGTH:
        raise SettingsError(
            f"{path}: the secret key is {len(key)} bytes long, at least "
            f"{SECRET_KEY_MIN_LENGTH} are needed; set {SECRET_KEY_ENV} or restore the file from a "
            "backup (deleting it makes a new key, which breaks every link already mailed)"
        )
    return key


def _create_key(path: Path) -> bytes:
    """Write a new key atomically: only a complete file ever appears at `path`.

    The key is written to a private temporary file, then hard-linked into place, which
    fails if another process got there first; that process's key is then used.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(SECRET_KEY_MIN_LENGTH)
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
            return _read_key(path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
    return key

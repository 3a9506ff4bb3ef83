"""Settings from the environment: the only module that reads os.environ."""

from __future__ import annotations

import functools
import os
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
            environ=env,
        )

    @property
    def host_port(self) -> tuple[str, int]:
        """`listen` split into host and port."""
        host, _, port = self.listen.rpartition(":")
        try:
            return host.strip("[]") or "127.0.0.1", int(port)
        except ValueError:
            raise SettingsError(
                f"BROADCASTER_LISTEN={self.listen!r}: write HOST:PORT, like 127.0.0.1:8080"
            ) from None

    @functools.cached_property
    def secret_key(self) -> bytes:
        """BROADCASTER_SECRET_KEY, else `var/secret_key` (generated on first use, mode 0600)."""
        from broadcaster.secrets import secret_key  # secrets imports SettingsError from here

        return secret_key(self.root, self.environ)

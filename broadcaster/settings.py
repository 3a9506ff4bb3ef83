"""Settings from the environment: the only module that reads os.environ."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"
DEFAULT_LISTEN = "127.0.0.1:8080"


@dataclass(frozen=True)
class Settings:
    """Process-wide settings; every field has a default that works on a fresh machine."""

    root: Path
    base_url: str
    listen: str = DEFAULT_LISTEN
    database_url: str = ""
    timezone: str = DEFAULT_TIMEZONE
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
        return cls(
            root=root,
            base_url=base_url.rstrip("/"),
            listen=listen,
            database_url=database_url,
            timezone=env.get("BROADCASTER_TIMEZONE") or DEFAULT_TIMEZONE,
            environ=env,
        )

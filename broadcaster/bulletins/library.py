"""The bulletins on disk (`var/bulletins/<locale>/`): each one's MP3, Ogg Opus, script,
signed bundle and manifest, and the locale's podcast feed; written whole or not at all."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from broadcaster.bulletins.names import FILE, LOCALE

FEED = "radio.rss"
# Inside the workspace: one folder per locale.
LIBRARY = Path("var") / "bulletins"


class BulletinLibrary:
    """One installation's rendered bulletins; the `.json` manifest is written last, so a
    bulletin with one is complete."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path(self, locale: str, name: str) -> Path | None:
        """The file `name` of `locale` (a bulletin file or the feed), or None if the names
        are not ones the library makes."""
        if not LOCALE.fullmatch(locale) or not (name == FEED or FILE.fullmatch(name)):
            return None
        return self.folder / locale / name

    def has(self, locale: str, bulletin: str) -> bool:
        """Whether the bulletin is rendered (its manifest is there)."""
        return (self.folder / locale / f"{bulletin}.json").is_file()

    def store(self, locale: str, bulletin: str, files: Mapping[str, bytes]) -> None:
        """Write a bulletin's files (suffix -> bytes), each atomically, the manifest last."""
        for suffix in sorted(files, key=lambda s: s == "json"):
            self._write(self.folder / locale / f"{bulletin}.{suffix}", files[suffix])

    def write_feed(self, locale: str, data: bytes) -> None:
        """Replace the locale's podcast feed."""
        self._write(self.folder / locale / FEED, data)

    def entries(self, locale: str, limit: int) -> list[tuple[dict[str, Any], str]]:
        """(manifest, script) of the newest `limit` complete bulletins in `locale`."""
        out = []
        for manifest in self.manifests(locale)[:limit]:
            try:
                script = (self.folder / locale / f"{manifest['id']}.txt").read_text("utf-8")
            except (OSError, KeyError):
                continue
            out.append((manifest, script))
        return out

    def manifests(self, locale: str) -> list[dict[str, Any]]:
        """Every complete bulletin's manifest in `locale`, newest publication first."""
        folder = self.folder / locale
        if not folder.is_dir():
            return []
        found = []
        for path in folder.glob("*.json"):
            try:
                found.append(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError):
                continue  # being replaced, or not ours
        return sorted(
            found, key=lambda m: (m.get("published_at", ""), m.get("id", "")), reverse=True
        )

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".part")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

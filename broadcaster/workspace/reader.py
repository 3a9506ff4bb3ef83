"""How workspace files are read: NFC text with LF line endings, YAML with line numbers,
and what a date written in them means."""

from __future__ import annotations

import unicodedata
from datetime import date, datetime, time
from pathlib import Path, PurePosixPath
from zoneinfo import ZoneInfo

from broadcaster.workspace.diagnostics import Diagnostics
from broadcaster.workspace.yamlsource import YamlDoc, YamlError, load_yaml


class Reader:
    """Reads workspace files as NFC text with LF line endings, reporting what fails."""

    def __init__(self, root: Path, diag: Diagnostics) -> None:
        self.root = root
        self.diag = diag

    def rel(self, path: Path) -> str:
        try:
            return PurePosixPath(path.relative_to(self.root)).as_posix()
        except ValueError:
            return path.as_posix()

    def text(self, path: Path, *, required: bool = True) -> str | None:
        """The file's text, or None (with a problem recorded when `required`)."""
        rel = self.rel(path)
        if not path.exists():
            if required:
                self.diag.error(rel, 1, "file not found; create it (see campaigns/README.md)")
            return None
        if not path.is_file():
            self.diag.error(rel, 1, "expected a file, found a folder or special file")
            return None
        try:
            raw = path.read_bytes()
        except OSError as exc:
            self.diag.error(rel, 1, f"cannot read the file: {exc.strerror or exc}")
            return None
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            self.diag.error(rel, line, "not valid UTF-8; save the file with UTF-8 encoding")
            return None
        if "\0" in text:
            self.diag.error(rel, text[: text.index("\0")].count("\n") + 1, "contains a NUL byte")
            return None
        return unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))

    def yaml(self, path: Path, *, required: bool = True) -> YamlDoc | None:
        """The file parsed as YAML with line numbers, or None when it cannot be read."""
        text = self.text(path, required=required)
        if text is None:
            return None
        return self.yaml_text(text, self.rel(path))

    def yaml_text(self, text: str, rel: str, line_offset: int = 0) -> YamlDoc | None:
        try:
            return load_yaml(text, line_offset=line_offset)
        except YamlError as exc:
            self.diag.error(rel, exc.line, exc.message)
            return None


def localize(value: datetime | date, tz: ZoneInfo) -> datetime:
    """Dates mean midnight and naive date-times mean wall-clock time in the workspace zone."""
    if not isinstance(value, datetime):
        value = datetime.combine(value, time(0, 0))
    return value.replace(tzinfo=tz) if value.tzinfo is None else value

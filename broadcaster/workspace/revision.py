"""A campaign's revision: the hash that tells one version of its files from another."""

from __future__ import annotations

import hashlib
import unicodedata
from pathlib import Path, PurePosixPath

from broadcaster.workspace.files import campaign_paths, read_inside


def revision_of(folder: Path, readable: list[Path] | None = None) -> str:
    """A stable hash of a campaign's files: sorted paths, LF line endings, NFC text.

    Only the files that may be read count (`readable`, by default found here): never a
    link out of the folder, nor hidden files."""
    digest = hashlib.sha256()
    if readable is None:
        readable = campaign_paths(folder)[0]
    files = {
        unicodedata.normalize("NFC", PurePosixPath(p.relative_to(folder)).as_posix()): p
        for p in readable
    }
    for rel, path in sorted(files.items()):
        try:
            data = read_inside(path, folder)
        except OSError:
            continue  # changed since it was listed; the next load reports it
        try:
            text = data.decode("utf-8-sig").replace("\r\n", "\n").replace("\r", "\n")
            data = unicodedata.normalize("NFC", text).encode()
        except UnicodeDecodeError:
            pass
        name = rel.encode()
        digest.update(len(name).to_bytes(4, "big") + name + len(data).to_bytes(8, "big") + data)
    return digest.hexdigest()

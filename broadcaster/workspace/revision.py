"""A campaign's revision: the hash that tells one version of its files from another."""

from __future__ import annotations

import hashlib
import unicodedata
from pathlib import Path, PurePosixPath


def revision_of(folder: Path) -> str:
    """A stable hash of a campaign's files: sorted paths, LF line endings, NFC text."""
    digest = hashlib.sha256()
    files = {
        unicodedata.normalize("NFC", PurePosixPath(p.relative_to(folder)).as_posix()): p
        for p in folder.rglob("*")
        if p.is_file()
    }
    for rel, path in sorted(files.items()):
        if any(part.startswith(".") for part in PurePosixPath(rel).parts):
            continue
        data = path.read_bytes()
        try:
            text = data.decode("utf-8-sig").replace("\r\n", "\n").replace("\r", "\n")
            data = unicodedata.normalize("NFC", text).encode()
        except UnicodeDecodeError:
            pass
        name = rel.encode()
        digest.update(len(name).to_bytes(4, "big") + name + len(data).to_bytes(8, "big") + data)
    return digest.hexdigest()

"""Attachments uploaded from the editor: which types and sizes are taken, and their names.

An attachment goes to the campaign's `files/` (the official document as a PDF, images). Its
type is checked by its content, not only its name, so a renamed file is refused clearly.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import PurePath

MAX_BYTES = 10 * 1024 * 1024
# Extension -> the bytes such a file starts with.
TYPES = {
    ".pdf": (b"%PDF-",),
    ".png": (b"\x89PNG\r\n\x1a\n",),
    ".jpg": (b"\xff\xd8\xff",),
    ".jpeg": (b"\xff\xd8\xff",),
}
ALLOWED = "PDF, PNG, JPEG"


class UploadRefused(ValueError):
    """An attachment that cannot be taken; the message names the file and the fix."""


def safe_name(filename: str) -> str:
    """A file name fit for files/ and a URL: ASCII letters, digits, '-', '_' and '.'."""
    name = PurePath(filename.replace("\\", "/")).name
    ascii_name = unicodedata.normalize("NFKD", name.replace("đ", "d").replace("Đ", "D"))
    ascii_name = ascii_name.encode("ascii", "ignore").decode()
    stem, dot, ext = ascii_name.rpartition(".")
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", stem if dot else ascii_name).strip("-")
    return f"{stem or 'file'}.{ext.lower()}" if dot else stem or "file"


def vet(filename: str, data: bytes) -> str:
    """The name to store an upload under, or UploadRefused saying why not."""
    name = safe_name(filename)
    ext = PurePath(name).suffix.lower()
    if ext not in TYPES:
        raise UploadRefused(f"{filename}: only {ALLOWED} files can be attached")
    if len(data) > MAX_BYTES:
        raise UploadRefused(
            f"{filename}: {len(data) / 1048576:.1f} MB is too large; "
            f"an attachment is at most {MAX_BYTES // 1048576} MB"
        )
    if not data:
        raise UploadRefused(f"{filename}: the file is empty")
    if not data.startswith(TYPES[ext]):
        raise UploadRefused(f"{filename}: the content is not a {ext[1:].upper()} file")
    return name

"""What a generated file is served as: its Content-Type, and a campaign's files as downloads.

Campaign files (`/files/<id>/<name>`) never run on the site's origin, which /admin shares:
an author's SVG, HTML or script must not run there. PDFs and pictures open in the browser;
every other type is a download (`Content-Disposition: attachment`), and every file but a
PDF is also sandboxed (`Content-Security-Policy: sandbox`: no script, a unique origin),
should a browser show it.
"""

from __future__ import annotations

import mimetypes
import os
from urllib.parse import quote

CONTENT_TYPES = {
    ".rss": "application/rss+xml; charset=utf-8",
    ".atom": "application/atom+xml; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".xml": "application/xml; charset=utf-8",
    ".opml": "text/x-opml; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".json": "application/json",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}
FEED_JSON = "application/feed+json; charset=utf-8"


def content_type_for(path: str) -> str:
    """The Content-Type of a generated file, from its path in the public tree."""
    suffix = os.path.splitext(path)[1].lower()
    if suffix == ".json" and path.startswith("feeds/"):
        return FEED_JSON
    known = CONTENT_TYPES.get(suffix)
    if known is not None:
        return known
    guessed, _ = mimetypes.guess_type(path)
    if guessed is None:
        return "application/octet-stream"
    return f"{guessed}; charset=utf-8" if guessed.startswith("text/") else guessed


FILES_PREFIX = "files/"
# What a browser shows without running anything the file says: documents and pictures.
INLINE_TYPES = frozenset(
    {"application/pdf", "image/png", "image/jpeg", "image/gif", "image/webp", "text/plain"}
)
# Chromium's PDF viewer will not open in a sandboxed document, and runs no script on the
# origin anyway: a PDF alone goes without the sandbox.
UNSANDBOXED_TYPES = frozenset({"application/pdf"})
SANDBOX = "sandbox"


def _disposition(name: str) -> str:
    """`attachment` with the file's name: an ASCII fallback and the UTF-8 name (RFC 6266)."""
    fallback = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in name
    )
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def file_headers(path: str, content_type: str) -> dict[str, str]:
    """The headers a generated file at `path` gets besides the usual ones (none outside
    files/)."""
    if not path.startswith(FILES_PREFIX):
        return {}
    media_type = content_type.split(";", 1)[0].strip().lower()
    headers = {}
    if media_type not in INLINE_TYPES:
        headers["Content-Disposition"] = _disposition(path.rsplit("/", 1)[-1])
    if media_type not in UNSANDBOXED_TYPES:
        headers["Content-Security-Policy"] = SANDBOX
    return headers

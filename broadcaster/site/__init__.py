"""The website channel's static site: built as a pure function, published atomically."""

from __future__ import annotations

from broadcaster.site.build import build_site, next_change
from broadcaster.site.folders import PublicFolderError, publish_lock, write_site, write_subtree

__all__ = [
    "PublicFolderError",
    "build_site",
    "next_change",
    "publish_lock",
    "write_site",
    "write_subtree",
]

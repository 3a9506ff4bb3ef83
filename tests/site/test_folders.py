"""Writing builds: files that did not change since the writer's last build are hard-linked
from it, and the tree readers see is always the whole new one."""

from __future__ import annotations

import os
from pathlib import Path

from broadcaster.site import write_site, write_subtree
from broadcaster.site.folders import Unchanged


def test_unchanged_files_are_linked_from_the_last_build_changed_ones_written(
    tmp_path: Path,
) -> None:
    public = tmp_path / "public"
    first = {"index.html": b"home v1", "vi/a/index.html": b"page a", "files/a/doc.pdf": b"%PDF"}
    build1 = write_site(first, public)
    second = {**first, "index.html": b"home v2"}
    same = [p for p in second if p != "index.html"]
    build2 = write_site(second, public, unchanged=Unchanged(build1, same))
    assert build2 != build1
    assert (public / "index.html").read_bytes() == b"home v2"
    for path in same:
        assert (public / path).read_bytes() == second[path]
        assert os.stat(build2 / path).st_ino == os.stat(build1 / path).st_ino
    assert os.stat(build2 / "index.html").st_ino != os.stat(build1 / "index.html").st_ino


def test_a_build_that_is_no_longer_current_is_not_linked_from(tmp_path: Path) -> None:
    """Another writer swapped in a build since: everything is written, nothing borrowed."""
    public = tmp_path / "public"
    mine = write_site({"index.html": b"mine"}, public)
    write_site({"index.html": b"theirs", "x.html": b"x"}, public)
    build = write_site(
        {"index.html": b"mine", "y.html": b"y"}, public, unchanged=Unchanged(mine, ["index.html"])
    )
    assert (build / "index.html").read_bytes() == b"mine"
    assert not mine.exists()  # pruned: only the current build and the one before are kept


def test_feeds_subtree_links_unchanged_feeds(tmp_path: Path) -> None:
    public = tmp_path / "public"
    write_site({"index.html": b"home"}, public)
    feeds = {"feeds/vi/all.atom": b"<feed>1</feed>", "feeds/vi/t.atom": b"<feed>t</feed>"}
    first = write_subtree(feeds, public, "feeds")
    inode = os.stat(first / "vi/t.atom").st_ino
    changed = {**feeds, "feeds/vi/all.atom": b"<feed>2</feed>"}
    second = write_subtree(
        changed, public, "feeds", unchanged=Unchanged(first, ["feeds/vi/t.atom"])
    )
    assert (public / "feeds/vi/all.atom").read_bytes() == b"<feed>2</feed>"
    assert os.stat(second / "vi/t.atom").st_ino == inode  # the first build itself is pruned

"""Publishing a built site atomically: write a new build folder, then swap one symlink.

Layout, for `public = /srv/ws/public`:

    public -> public.builds/000007-3f2a9c0d1e4b5a69     (relative symlink, swapped atomically)
    public.builds/.lock                                 (flock held by every writer)
    public.builds/000006-...  000007-...                (the previous and the current build)
    public.builds/feeds.builds/000003-.../              (subtrees published on their own)
    public.builds/000007-.../feeds -> ../feeds.builds/000003-...

A reader resolves `public/...` through the symlink and so sees one whole build, old or
new, never a mix. The previous build is kept for readers that are still inside it.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import re
import shutil
from collections.abc import Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

BUILD_NAME = re.compile(r"^(\d{6})-([0-9a-f]{16})$")


@dataclass(frozen=True)
class Unchanged:
    """What the caller wrote last: that build's folder, and the paths whose bytes are the
    same now. While that build is still the current one, those files are hard-linked from
    it instead of written again (most of a site stays the same between builds)."""

    build: Path
    paths: Collection[str]


class PublicFolderError(Exception):
    """`public` exists but is not a site this writer manages; nothing was changed."""


def builds_folder(public: Path) -> Path:
    """Where the builds behind `public` live: `<public>.builds/` next to it."""
    return public.with_name(public.name + ".builds")


@contextmanager
def publish_lock(public: Path) -> Iterator[None]:
    """Hold the lock every writer of `public` takes (across threads and processes)."""
    builds = builds_folder(public)
    builds.mkdir(parents=True, exist_ok=True)
    with (builds / ".lock").open("a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def current_build(public: Path) -> Path | None:
    """The build `public` points at, or None before the first one; refuses foreign folders."""
    builds = builds_folder(public)
    if public.is_symlink():
        target = Path(os.path.abspath(public.parent / os.readlink(public)))
        if target.parent != Path(os.path.abspath(builds)):
            raise PublicFolderError(
                f"{public} is a symlink to {target}, not to a build in {builds}; "
                "remove the symlink or publish to another folder"
            )
        return target if target.is_dir() else None
    if not public.exists():
        return None
    if public.is_dir() and not any(public.iterdir()):
        return None
    kind = "folder with files" if public.is_dir() else "file"
    raise PublicFolderError(
        f"{public} is a {kind} that Broadcaster did not write; move it away "
        "(the site is published as a symlink to a build folder) or publish to another folder"
    )


def tree_digest(files: Mapping[str, bytes]) -> str:
    """A hash of every path and its bytes: equal trees, equal digests."""
    digest = hashlib.sha256()
    for path in sorted(files):
        data = files[path]
        digest.update(f"{path}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


def _check_path(path: str) -> None:
    parts = path.split("/")
    if path.startswith("/") or "\\" in path or "\0" in path or "" in parts or ".." in parts:
        raise ValueError(f"{path!r} is not a relative path inside the site")
    if "." in parts:
        raise ValueError(f"{path!r} is not a relative path inside the site")


def _link_or_copy(source: str, target: str) -> str:
    """Hard-link a kept file into the new build (cheap), copying across file systems."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)
    return target


def _carry(source: Path, target: Path) -> None:
    """Put a kept entry of the current build into the new one: symlinks stay symlinks."""
    if source.is_symlink():
        os.symlink(os.readlink(source), target)
    elif source.is_dir():
        shutil.copytree(source, target, symlinks=True, copy_function=_link_or_copy)
    elif source.exists():
        _link_or_copy(str(source), str(target))


def _next_name(folder: Path, digest: str) -> str:
    numbers = [
        int(match.group(1))
        for child in folder.iterdir()
        if (match := BUILD_NAME.fullmatch(child.name)) is not None
    ]
    return f"{max(numbers, default=0) + 1:06d}-{digest[:16]}"


def _stage(
    files: Mapping[str, bytes],
    folder: Path,
    digest: str,
    link_from: Path | None = None,
    same: Collection[str] = (),
) -> Path:
    """Write `files` into a hidden folder under `folder`; the caller renames it into place.

    Paths in `same` are hard-linked from the build `link_from` (their bytes are unchanged
    there), falling back to writing them.
    """
    folder.mkdir(parents=True, exist_ok=True)
    staging = folder / f".tmp-{digest[:16]}-{os.getpid()}"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir()
    made: set[str] = set()
    root = str(staging)
    for path, data in sorted(files.items()):
        target = os.path.join(root, path)
        parent = os.path.dirname(target)
        if parent not in made:
            os.makedirs(parent, exist_ok=True)
            made.add(parent)
        if link_from is not None and path in same:
            try:
                os.link(os.path.join(link_from, path), target)
                continue
            except OSError:
                pass  # gone or another file system: write it
        with open(target, "wb") as handle:
            handle.write(data)
    return staging


def _link_source(current: Path | None, unchanged: Unchanged | None) -> Path | None:
    """The build to hard-link unchanged files from: the caller's last, if still current."""
    if current is None or unchanged is None:
        return None
    return current if os.path.abspath(unchanged.build) == os.path.abspath(current) else None


def _fsync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _point(link: Path, target: Path) -> None:
    """Make `link` a relative symlink to `target` in one rename (an empty folder is replaced)."""
    temporary = link.with_name(f".{link.name}.swap-{os.getpid()}")
    with suppress(FileNotFoundError):
        temporary.unlink()
    os.symlink(os.path.relpath(target, link.parent), temporary)
    if link.is_dir() and not link.is_symlink():
        link.rmdir()  # only ever empty here: current_build refuses anything else
    os.replace(temporary, link)
    _fsync_folder(link.parent)


def _prune(folder: Path, keep: set[str]) -> None:
    """Remove builds and leftovers of interrupted runs in `folder`, except `keep`."""
    for child in sorted(folder.iterdir()):
        if child.name in keep:
            continue
        if BUILD_NAME.fullmatch(child.name) or child.name.startswith(".tmp-"):
            try:
                shutil.rmtree(child)
            except OSError as exc:
                log.warning("could not remove old build %s: %s", child, exc)


def write_site(
    files: Mapping[str, bytes],
    public: Path,
    *,
    keep: Iterable[str] = ("feeds",),
    unchanged: Unchanged | None = None,
) -> Path:
    """Publish `files` as the whole tree at `public` in one atomic swap; return the build.

    Contract:
    - `files` maps relative POSIX paths to bytes (what `build_site` returns).
    - The tree is written to a new folder in `<public>.builds/`, then `public` becomes a
      relative symlink to it in one `os.replace`: readers see the old site or the new one,
      never half of either. The previous build stays for readers still inside it; older
      builds are removed.
    - Each top-level name in `keep` (default `feeds`) is carried over from the current build
      (a symlink is copied as a symlink, files are hard-linked), so a site rebuild never drops
      what other writers published there (see `write_subtree`). `files` must not contain them.
    - `public` may be missing or an empty folder; anything else that is not a symlink to one
      of our builds raises `PublicFolderError` before anything is written.
    - Writers of the same `public` are serialised by `publish_lock` (threads and processes).
    - The same `files` as the current build is a no-op. Blocking I/O: call it from a thread
      (`asyncio.to_thread`) in async code.
    """
    kept = tuple(keep)
    for path in files:
        _check_path(path)
        if path.split("/", 1)[0] in kept:
            raise ValueError(f"{path!r} is under {path.split('/', 1)[0]}/, which write_site keeps")
    public = Path(os.path.abspath(public))
    builds = builds_folder(public)
    with publish_lock(public):
        current = current_build(public)
        digest = tree_digest(files)
        if current is not None and current.name.endswith(f"-{digest[:16]}"):
            return current
        link_from = _link_source(current, unchanged)
        same = unchanged.paths if unchanged is not None else ()
        staging = _stage(files, builds, digest, link_from, same)
        if current is not None:
            for name in kept:
                _carry(current / name, staging / name)
        build = builds / _next_name(builds, digest)
        staging.rename(build)
        _point(public, build)
        _prune(builds, {build.name, current.name if current else ""})
    return build


def write_subtree(
    files: Mapping[str, bytes], public: Path, name: str, *, unchanged: Unchanged | None = None
) -> Path:
    """Publish `files` (all under `name/`) as `public/<name>` in one swap, leaving the rest.

    For writers other than the site (the feeds): the subtree is built in
    `<public>.builds/<name>.builds/`, then the current site build's `<name>` entry becomes a
    symlink to it in one `os.replace`. `write_site(..., keep=(name,))` carries that symlink
    into every later site build. Before the first site build, an empty one is created.
    """
    _check_path(name)
    if "/" in name:
        raise ValueError(f"{name!r} must be a single top-level name")
    inner = {}
    for path, data in files.items():
        _check_path(path)
        if not path.startswith(f"{name}/"):
            raise ValueError(f"{path!r} is not under {name}/")
        inner[path.removeprefix(f"{name}/")] = data
    public = Path(os.path.abspath(public))
    builds = builds_folder(public)
    subtrees = builds / f"{name}.builds"
    with publish_lock(public):
        site = current_build(public)
        if site is None:
            staging = _stage({}, builds, tree_digest({}))
            site = builds / _next_name(builds, tree_digest({}))
            staging.rename(site)
            _point(public, site)
        entry = site / name
        if entry.exists() and not entry.is_symlink():
            raise PublicFolderError(f"{entry} is a real folder; expected a symlink to a subtree")
        digest = tree_digest(inner)
        if entry.is_symlink() and os.readlink(entry).endswith(f"-{digest[:16]}"):
            return entry.resolve()
        current = entry.resolve() if entry.is_symlink() else None
        link_from = _link_source(current, unchanged)
        prefix = f"{name}/"
        same = {p.removeprefix(prefix) for p in unchanged.paths} if unchanged is not None else ()
        staging = _stage(inner, subtrees, digest, link_from, same)
        subtree = subtrees / _next_name(subtrees, digest)
        staging.rename(subtree)
        _point(entry, subtree)
        # Keep every subtree a site build still links to (the previous build's readers).
        used = {subtree.name}
        for build in builds.iterdir():
            link = build / name
            if BUILD_NAME.fullmatch(build.name) and link.is_symlink():
                used.add(Path(os.readlink(link)).name)
        _prune(subtrees, used)
    return subtree

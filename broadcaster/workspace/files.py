"""Which files of a campaign folder may be read: regular files inside it, never a link out.

A symbolic link in `campaigns/<id>/` (in `files/` above all) that leads outside the folder
would publish whatever it points at (`/etc/passwd`, `/proc/self/environ`) on the website and
in press releases. Such links, links to nothing or to folders, and devices, pipes and
sockets are refused: `check` reports them at the file, loading and reading skip them.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from broadcaster.workspace.schema import one_line

_COPY = "copy the file itself into the campaign folder instead of linking to it"


@dataclass(frozen=True)
class Refused:
    """A path under the campaign folder that is never read, and what to do about it."""

    path: Path
    message: str


def _link_problem(path: Path, inside: Path) -> str | None:
    """Why the link `path` may not be followed, or None when it stays inside `inside`."""
    try:
        shown = os.readlink(path)
    except OSError:
        shown = "?"
    try:
        target = path.resolve(strict=True)
    except (OSError, RuntimeError):
        return f"a link to {shown!r}, which does not exist (or links in a loop); remove it"
    if not target.is_relative_to(inside):
        return (
            f"a link to {shown!r}, outside the campaign folder: links that leave "
            f"campaigns/{inside.name}/ are never followed; {_COPY}"
        )
    if target.is_dir():
        return f"a link to the folder {shown!r}: links to folders are not followed; {_COPY}"
    return None


def refusal(path: Path, folder: Path) -> str | None:
    """Why `path` (a file under the campaign `folder`) may not be read, or None if it may."""
    inside = folder.resolve()
    if path.is_symlink():
        problem = _link_problem(path, inside)
        if problem is not None:
            return problem
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc}); remove it"
    if stat.S_ISDIR(mode):
        return None
    if not stat.S_ISREG(mode):
        return "not a regular file (a device, pipe or socket); remove it"
    return None


def _name_problem(name: str) -> str | None:
    """A name that would break the mail header or web address it ends up in."""
    try:
        one_line(name)
    except ValueError:
        return "the name has a line break or control character; rename the file"
    return None


def campaign_paths(folder: Path) -> tuple[list[Path], list[Refused]]:
    """The regular files under a campaign `folder` that may be read, and the paths refused
    (with why), both sorted; hidden names are neither. Links that stay inside the folder are
    followed to a file; folders are entered only when they are not links."""
    readable: list[Path] = []
    refused: list[Refused] = []
    pending = [folder]
    while pending:
        here = pending.pop()
        try:
            names = os.listdir(here)
        except OSError:
            continue
        for name in names:
            if name.startswith("."):  # never part of a campaign (nor of its revision)
                continue
            path = here / name
            problem = refusal(path, folder) or _name_problem(name)
            if problem is not None:
                refused.append(Refused(path, problem))
            elif path.is_dir() and not path.is_symlink():
                pending.append(path)
            elif path.is_file():
                readable.append(path)
    readable.sort()
    refused.sort(key=lambda r: r.path)
    return readable, refused


def read_inside(path: Path, folder: Path) -> bytes:
    """The bytes of `path`, a regular file inside `folder` (after any links); OSError if not.

    Checked again when read, since the folder may have changed since it was loaded."""
    problem = refusal(path, folder)
    if problem is not None:
        raise OSError(problem)
    real = path.resolve(strict=True)
    if not real.is_relative_to(folder.resolve()):  # a folder on the way became a link out
        raise OSError(f"{path} leads outside {folder}")
    fd = os.open(real, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as file:
        if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
            raise OSError("not a regular file")
        return file.read()

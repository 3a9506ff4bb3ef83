"""Campaign files written from the admin UI and API: the files stay the source of truth.

A save names the revision it started from; when the files on disk are at another revision
(a colleague saved, or someone edited them in git) it is refused and nothing is written,
so no one's work is overwritten. Each file is replaced atomically (write, fsync, rename).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import tempfile
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

import yaml

from broadcaster.settings import Settings
from broadcaster.workspace.diagnostics import Problem
from broadcaster.workspace.files import read_inside
from broadcaster.workspace.load import load_workspace
from broadcaster.workspace.models import Workspace
from broadcaster.workspace.quarantine import blocking
from broadcaster.workspace.revision import revision_of

EDITABLE = ("campaign.yaml", "vi.md", "en.md")
CAMPAIGN_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")

NEW_TEXT = {
    "vi.md": "---\ntitle: Tiêu đề\nsummary: Tóm tắt một câu.\n---\n\nNội dung.\n",
    "en.md": "---\ntitle: Title\nsummary: One-sentence summary.\n---\n\nBody.\n",
}
# When workspace.yaml names no issuer and no campaign has one yet.
UNNAMED_ISSUER = {"vi": "Tên cơ quan ban hành", "en": "Issuing office"}


def new_campaign(workspace: Workspace, now: datetime | None = None) -> dict[str, str]:
    """The files of a new campaign: workspace.yaml's issuer and default topics (else the
    issuer most campaigns use and the first topic), valid from today in the workspace's zone."""
    issuer = dict(workspace.issuer) or _usual_issuer(workspace) or UNNAMED_ISSUER
    topics = list(workspace.default_topics) or list(workspace.topics)[:1]
    today = (now or datetime.now(UTC)).astimezone(workspace.timezone)
    midnight = today.replace(hour=0, minute=0, second=0, microsecond=0)
    meta = (
        f"topics: {_flow(topics)}\n"
        "priority: normal\n"
        f"valid_from: {midnight.isoformat()}\n"
        f"issuer: {_flow(issuer)}\n"
    )
    return {"campaign.yaml": meta, **NEW_TEXT}


def _flow(value: object) -> str:
    """A list or mapping as one YAML line."""
    text: str = yaml.safe_dump(
        value, default_flow_style=True, allow_unicode=True, sort_keys=False, width=10_000
    )
    return text.strip()


def _usual_issuer(workspace: Workspace) -> dict[str, str] | None:
    found = Counter(tuple(c.issuer.items()) for c in workspace.campaigns.values())
    return dict(found.most_common(1)[0][0]) if found else None


_locks: dict[str, asyncio.Lock] = {}


class EditConflict(Exception):
    """The files changed since the editor opened them; the message says what to do."""


class EditRefused(ValueError):
    """An edit that cannot be saved as asked (bad id, unknown file)."""


def folder_of(root: Path, campaign_id: str) -> Path:
    """`campaigns/<id>/`, for a valid id."""
    if not CAMPAIGN_ID.fullmatch(campaign_id):
        raise EditRefused(
            f"campaign id {campaign_id!r}: use lowercase letters, digits and '-' (like covid-2021)"
        )
    return root / "campaigns" / campaign_id


def read_files(root: Path, campaign_id: str) -> dict[str, str]:
    """The editable files' text ('' for a missing one, or one that is a link out of the
    campaign folder: `check` reports it)."""
    folder = folder_of(root, campaign_id)
    files = {}
    for name in EDITABLE:
        path = folder / name
        try:
            files[name] = read_inside(path, folder).decode("utf-8") if path.is_file() else ""
        except OSError:
            files[name] = ""
    return files


def current_revision(root: Path, campaign_id: str) -> str | None:
    """The revision of the files on disk now; None when the campaign does not exist."""
    folder = folder_of(root, campaign_id)
    return revision_of(folder) if folder.is_dir() else None


def write_atomically(path: Path, text: str | bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    data = text.encode("utf-8") if isinstance(text, str) else text
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _save(
    root: Path,
    campaign_id: str,
    base: str | None,
    files: Mapping[str, str],
    uploads: Mapping[str, bytes] | None = None,
    removals: Sequence[str] = (),
) -> str:
    folder = folder_of(root, campaign_id)
    unknown = sorted(set(files) - set(EDITABLE))
    if unknown:
        raise EditRefused(f"cannot edit {', '.join(unknown)}; editable: {', '.join(EDITABLE)}")
    now = revision_of(folder) if folder.is_dir() else None
    if base is None and now is not None:
        raise EditConflict(
            f"a campaign '{campaign_id}' exists already; choose another id or open it to edit"
        )
    if base is not None and now != base:
        raise EditConflict(
            f"campaign '{campaign_id}' was changed by someone else since you opened it "
            f"(you started from revision {base[:12]}, it is now {(now or 'deleted')[:12]}). "
            "Nothing was saved: your text is still in the form; copy it, reload the campaign "
            "and apply your changes again."
        )
    if not files.get("vi.md", "x").strip():
        raise EditRefused("vi.md cannot be empty: Vietnamese is the default language")
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        path = folder / name
        if not text.strip():
            if name == "en.md" and path.exists():
                path.unlink()  # no English version
            continue
        write_atomically(path, text if text.endswith("\n") else text + "\n")
    attachments = folder / "files"
    for name in removals:
        path = attachments / name
        if Path(name).name == name and not name.startswith(".") and path.is_file():
            path.unlink()
    for name, data in (uploads or {}).items():
        attachments.mkdir(exist_ok=True)
        write_atomically(attachments / name, data)
    return revision_of(folder)


async def save_files(
    root: Path,
    campaign_id: str,
    base: str | None,
    files: Mapping[str, str],
    uploads: Mapping[str, bytes] | None = None,
    removals: Sequence[str] = (),
) -> str:
    """Write the files (and add, replace or remove attachments in files/) if they are still
    at `base` (None: a new campaign); the new revision."""
    lock = _locks.setdefault(campaign_id, asyncio.Lock())
    async with lock:
        return await asyncio.to_thread(_save, root, campaign_id, base, files, uploads, removals)


def attachments_of(root: Path, campaign_id: str) -> list[tuple[str, int]]:
    """The campaign's attachments in files/: (name, size in bytes), by name."""
    folder = folder_of(root, campaign_id) / "files"
    if not folder.is_dir():
        return []
    return sorted(
        (p.name, p.stat().st_size)
        for p in folder.iterdir()
        if p.is_file() and not p.is_symlink() and not p.name.startswith(".")
    )


def problems_for(
    root: Path, settings: Settings, campaign_id: str
) -> tuple[Workspace | None, list[Problem]]:
    """The workspace as it is on disk and the `check` errors in this campaign's files.

    Errors outside campaign folders are included too (they stop every reload); other
    campaigns' errors are not (they only quarantine those campaigns).
    """
    workspace, diag = load_workspace(root, settings)
    return workspace, blocking(root.resolve(), diag.errors, campaign_id)

"""Quarantine: a campaign whose own files have errors keeps its last good revision (or is
left out) while every other part of the workspace loads; `serve` records which, for `status`."""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from broadcaster.settings import Settings
from broadcaster.workspace import schema
from broadcaster.workspace.diagnostics import Diagnostics, Problem
from broadcaster.workspace.load import read_workspace
from broadcaster.workspace.models import Campaign, Workspace

# Where `serve` writes the campaigns it holds in quarantine (read by `broadcaster status`).
RECORD = Path("var") / "quarantine.json"


@dataclass(frozen=True)
class Quarantined:
    """A campaign left as it was: its files have errors that `check` reports."""

    campaign: str
    problems: tuple[Problem, ...]
    # The last good revision, still used by the site, schedules and publishing; None when
    # the campaign never loaded (it is left out until fixed).
    kept_revision: str | None

    def refusal(self) -> str:
        """Why staff cannot review or publish it now, and what to do."""
        kept = (self.kept_revision or "")[:12]
        return (
            f"campaign '{self.campaign}' is quarantined: its files have errors (see its page), "
            f"so revision {kept} stays in use; fix and save them, then review the new revision"
        )

    def as_json(self) -> dict[str, Any]:
        """The record `status --json` shows."""
        return {
            "campaign": self.campaign,
            "kept_revision": self.kept_revision,
            "problems": [
                {"path": p.path, "line": p.line, "message": p.message} for p in self.problems
            ],
        }


def campaign_of(root: Path, problem: Problem) -> str | None:
    """The campaign whose folder holds the problem's file, or None if it is elsewhere."""
    parts = PurePosixPath(problem.path).parts
    if len(parts) < 2 or parts[0] != "campaigns":
        return None
    name = parts[1]
    if not re.fullmatch(schema.ID_PATTERN, name):
        return None
    folder = root / "campaigns" / name
    return name if folder.is_dir() and not folder.is_symlink() else None


def confined(root: Path, problems: list[Problem]) -> dict[str, list[Problem]] | None:
    """The errors by campaign, or None when any of them is outside a campaign folder."""
    by_campaign: dict[str, list[Problem]] = {}
    for problem in problems:
        campaign = campaign_of(root, problem)
        if campaign is None:
            return None
        by_campaign.setdefault(campaign, []).append(problem)
    return by_campaign


def blocking(root: Path, problems: list[Problem], campaign_id: str) -> list[Problem]:
    """The errors that stop `campaign_id` going out: its own first, then those outside
    campaign folders (other campaigns' errors only quarantine those campaigns)."""
    where = [(campaign_of(root, p), p) for p in problems]
    return [p for c, p in where if c == campaign_id] + [p for c, p in where if c is None]


def _keepable(old: Campaign | None, workspace: Workspace) -> Campaign | None:
    """The last good revision, if it still fits the new workspace (its topics exist)."""
    if old is None or any(topic not in workspace.topics for topic in old.topics):
        return None
    return old


def load_quarantining(
    root: Path, settings: Settings, previous: Workspace | None
) -> tuple[Workspace | None, Diagnostics, tuple[Quarantined, ...]]:
    """The workspace with every campaign whose own files have errors quarantined.

    A quarantined campaign keeps its revision from `previous` (the workspace in use). The
    workspace is None, as with `load_workspace`, when an error lies outside campaign folders.
    """
    workspace, diag = read_workspace(root, settings)
    if workspace is None:
        return None, diag, ()
    broken = confined(workspace.root, diag.errors)
    if broken is None:
        return None, diag, ()
    campaigns = dict(workspace.campaigns)
    held = []
    for campaign_id, problems in sorted(broken.items()):
        old = previous.campaigns.get(campaign_id) if previous is not None else None
        kept = _keepable(old, workspace)
        if kept is not None:
            campaigns[campaign_id] = kept
        revision = kept.revision if kept is not None else None
        held.append(Quarantined(campaign_id, tuple(problems), revision))
    workspace = replace(workspace, campaigns=dict(sorted(campaigns.items())))
    return workspace, diag, tuple(held)


def write_record(root: Path, held: tuple[Quarantined, ...], now: datetime | None = None) -> None:
    """Record the campaigns in quarantine now, replacing the record atomically."""
    path = root / RECORD
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "at": (now or datetime.now(UTC)).isoformat(),
        "pid": os.getpid(),
        "campaigns": [q.as_json() for q in held],
    }
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".quarantine-", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(record, out, ensure_ascii=False, indent=2)
    os.replace(tmp, path)


def read_record(root: Path) -> dict[str, Any] | None:
    """What `serve` last recorded (None when it never did, or the record is unreadable)."""
    try:
        data = json.loads((root / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None

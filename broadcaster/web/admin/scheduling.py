"""One-time schedules added from the admin pages: an `at:` entry appended to schedules.yaml.

The file stays the source of truth and keeps its comments: the entry is appended as text
at the end of the `schedules:` list, the workspace is checked, and on any problem the file
is put back exactly as it was.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from broadcaster.settings import Settings
from broadcaster.web.admin.editor import write_atomically
from broadcaster.workspace.load import load_workspace


class ScheduleRefused(ValueError):
    """The schedule cannot be added; the message says why and what to do instead."""


def _indent(text: str) -> str:
    found = re.search(r"^(\s*)- id:", text, re.MULTILINE)
    return found.group(1) if found else "  "


def add_one_time(
    root: Path,
    settings: Settings,
    campaign_id: str,
    at: datetime,
    channels: Sequence[str],
    now: datetime,
) -> str:
    """Append `- id, campaign, channels, at` to schedules.yaml; returns the schedule id."""
    if at <= now:
        raise ScheduleRefused("choose a time in the future (or use Publish now)")
    path = root / "schedules.yaml"
    original = path.read_text("utf-8")
    top_level = [
        line
        for line in original.splitlines()
        if line and not line[0].isspace() and not line.startswith(("#", "-"))
    ]
    if not top_level or not re.fullmatch(r"schedules:\s*(#.*)?", top_level[-1]):
        raise ScheduleRefused(
            "schedules.yaml does not end with its `schedules:` list; add the entry there by hand"
        )
    schedule_id = f"{campaign_id}-at-{at:%Y%m%d-%H%M}"[:80]
    if re.search(rf"^\s*- id:\s*{re.escape(schedule_id)}\s*$", original, re.MULTILINE):
        raise ScheduleRefused(f"schedule '{schedule_id}' exists already")
    pad = _indent(original)
    entry = (
        f"{pad}- id: {schedule_id}\n"
        f"{pad}  campaign: {campaign_id}\n"
        f"{pad}  channels: [{', '.join(channels)}]\n"
        f"{pad}  at: {at.replace(tzinfo=None, microsecond=0).isoformat()}\n"
    )
    write_atomically(path, original.rstrip("\n") + "\n" + entry)
    workspace, diag = load_workspace(root, settings)
    if workspace is None:
        write_atomically(path, original)
        problems = "; ".join(str(p) for p in diag.errors[:5])
        raise ScheduleRefused(
            f"the workspace would not load with it, so nothing changed: {problems}"
        )
    return schedule_id

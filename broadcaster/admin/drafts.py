"""Previews of unsaved text: the editor's form rendered as if saved, without touching the files.

The campaign's folder is rebuilt in a scratch workspace (everything else is linked to the
real one), loaded and checked like the real thing, and rendered by every channel.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..diagnostics import Problem
from ..preview import preview
from ..settings import Settings
from ..workspace import load_workspace
from .editor import EDITABLE, folder_of

LINKED = ("channels", "templates", "schedules.yaml", "workspace.yaml")


@dataclass(frozen=True)
class DraftPreview:
    title: str
    revision: str | None
    items: list[dict[str, Any]]
    problems: list[Problem]


def rendition_items(renditions: list[Any]) -> list[dict[str, Any]]:
    """What the preview template shows of each rendition: pages in frames, the rest as text."""
    return [
        {
            "channel": r.channel,
            "locale": r.locale,
            "summary": r.summary,
            "pages": {
                name: data.decode("utf-8", "replace")
                for name, data in r.files.items()
                if name.endswith(".html")
            },
            "files": {
                name: data.decode("utf-8", "replace")
                for name, data in r.files.items()
                if not name.endswith(".html")
            },
        }
        for r in renditions
    ]


def _scratch(root: Path, scratch: Path, campaign_id: str, files: Mapping[str, str]) -> None:
    for name in LINKED:
        if (root / name).exists():
            (scratch / name).symlink_to(root / name)
    campaigns = scratch / "campaigns"
    campaigns.mkdir()
    for entry in (root / "campaigns").iterdir():
        if entry.name != campaign_id:
            (campaigns / entry.name).symlink_to(entry)
    folder = folder_of(scratch, campaign_id)
    folder.mkdir()
    original = folder_of(root, campaign_id)
    if original.is_dir():
        for entry in original.iterdir():
            if entry.name not in EDITABLE:
                (folder / entry.name).symlink_to(entry)  # attachments
    for name in EDITABLE:
        text = files.get(name, "").replace("\r\n", "\n")
        if text.strip():
            (folder / name).write_text(text, encoding="utf-8")


def _render(
    root: Path, settings: Settings, campaign_id: str, files: Mapping[str, str]
) -> DraftPreview:
    with tempfile.TemporaryDirectory(prefix="broadcaster-draft-") as tmp:
        scratch = Path(tmp)
        _scratch(root, scratch, campaign_id, files)
        workspace, diag = load_workspace(scratch, settings)
        if workspace is None or campaign_id not in workspace.campaigns:
            return DraftPreview(campaign_id, None, [], list(diag.errors))
        result = preview(
            workspace, settings, campaign_id, published_at=datetime.now(UTC).replace(microsecond=0)
        )
        campaign = workspace.campaigns[campaign_id]
        return DraftPreview(
            campaign.doc("vi").title, campaign.revision, rendition_items(result.renditions), []
        )


async def preview_draft(
    root: Path, settings: Settings, campaign_id: str, files: Mapping[str, str]
) -> DraftPreview:
    """Render the form's text for every channel and locale, or the `check` problems."""
    return await asyncio.to_thread(_render, root, settings, campaign_id, files)

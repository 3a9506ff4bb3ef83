"""Previews of unsaved text: the editor's form rendered as if saved, without touching the files.

The campaign's folder is rebuilt in a scratch workspace (everything else is linked to the
real one), loaded and checked like the real thing, and rendered by every channel.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from broadcaster.publishing.preview import preview
from broadcaster.settings import Settings
from broadcaster.web.admin.editor import EDITABLE, folder_of
from broadcaster.workspace.diagnostics import Problem
from broadcaster.workspace.models import DEFAULT_LOCALE
from broadcaster.workspace.quarantine import blocking, load_quarantining

LINKED = ("channels", "templates", "schedules.yaml", "workspace.yaml")


@dataclass(frozen=True)
class DraftPreview:
    title: str
    revision: str | None
    items: list[dict[str, Any]]
    problems: list[Problem]


TYPE_ORDER = {"website": 0, "feed": 1, "email": 2, "webhook": 3}


def _email_parts(data: bytes) -> tuple[str, str | None]:
    """An email's decoded subject and its HTML alternative (None without one)."""
    message = message_from_bytes(data, policy=policy.default)
    html = message.get_body(preferencelist=("html",))
    content = html.get_content() if isinstance(html, EmailMessage) else None
    return str(message.get("Subject", "")), content if isinstance(content, str) else None


def rendition_items(renditions: list[Any], types: Mapping[str, str]) -> list[dict[str, Any]]:
    """What the preview shows of each rendition: the page first, then feeds, email
    (rendered, with its subject, and the raw message), webhook JSON and radio script."""
    items = []
    for r in sorted(
        renditions,
        key=lambda r: (
            TYPE_ORDER.get(types.get(r.channel, ""), 9),
            r.channel,
            r.locale != DEFAULT_LOCALE,
            r.locale,
        ),
    ):
        pages: dict[str, str] = {}
        files: dict[str, str] = {}
        subjects: dict[str, str] = {}
        for name, data in r.files.items():
            if name.endswith(".html"):
                pages[name] = data.decode("utf-8", "replace")
                continue
            if name.endswith(".eml"):
                subject, html = _email_parts(data)
                subjects[name] = subject
                if html is not None:
                    pages[name] = html
            files[name] = data.decode("utf-8", "replace")
        items.append(
            {
                "channel": r.channel,
                "locale": r.locale,
                "summary": r.summary,
                "pages": pages,
                "subjects": subjects,
                "files": files,
            }
        )
    return items


def _no_files(folder: str, names: list[str]) -> list[str]:
    """What `copytree` leaves out of another campaign: its attachments."""
    return ["files"] if "files" in names and Path(folder).parent.name == "campaigns" else []


def _scratch(root: Path, scratch: Path, campaign_id: str, files: Mapping[str, str]) -> None:
    for name in LINKED:
        if (root / name).exists():
            (scratch / name).symlink_to(root / name)
    campaigns = scratch / "campaigns"
    campaigns.mkdir()
    # Campaign folders are copied, not linked: the loader follows no link out of a campaign
    # folder. The other campaigns' attachments are left out, this one's are copied (as links
    # are: a link that leaves the folder is still refused).
    for entry in (root / "campaigns").iterdir():
        if entry.name == campaign_id:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.copytree(entry, campaigns / entry.name, symlinks=True, ignore=_no_files)
        else:
            (campaigns / entry.name).symlink_to(entry)
    folder = folder_of(scratch, campaign_id)
    folder.mkdir()
    original = folder_of(root, campaign_id)
    if original.is_dir():
        for entry in original.iterdir():
            if entry.name in EDITABLE:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.copytree(entry, folder / entry.name, symlinks=True)  # attachments
            else:
                shutil.copy2(entry, folder / entry.name, follow_symlinks=False)
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
        # Other campaigns' errors only quarantine them: this one still previews.
        workspace, diag, _ = load_quarantining(scratch, settings, None)
        if workspace is None or campaign_id not in workspace.campaigns:
            problems = blocking(scratch.resolve(), diag.errors, campaign_id)
            return DraftPreview(campaign_id, None, [], problems)
        result = preview(
            workspace, settings, campaign_id, published_at=datetime.now(UTC).replace(microsecond=0)
        )
        campaign = workspace.campaigns[campaign_id]
        return DraftPreview(
            campaign.doc("vi").title,
            campaign.revision,
            rendition_items(result.renditions, {n: c.type for n, c in workspace.channels.items()}),
            [],
        )


async def preview_draft(
    root: Path, settings: Settings, campaign_id: str, files: Mapping[str, str]
) -> DraftPreview:
    """Render the form's text for every channel and locale, or the `check` problems."""
    return await asyncio.to_thread(_render, root, settings, campaign_id, files)

"""What a publication would send: every channel's rendition per locale, without sending."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from broadcaster.alerts.cap import preview_alert
from broadcaster.channels import Rendition, build_channels
from broadcaster.settings import Settings
from broadcaster.text.render import Publication
from broadcaster.workspace.models import Workspace


@dataclass(frozen=True)
class Preview:
    publication: Publication
    renditions: list[Rendition]
    cap: bytes | None = None  # the CAP alert, for an alert campaign previewed on every channel


def preview(
    workspace: Workspace,
    settings: Settings,
    campaign_id: str,
    *,
    channels: Iterable[str] = (),
    locales: Iterable[str] = (),
    published_at: datetime,
) -> Preview:
    """Render `campaign_id` for the chosen channels (default all) and locales (default its own)."""
    campaign = workspace.campaigns[campaign_id]
    built = build_channels(workspace, settings)
    chosen = list(channels)
    publication = Publication.prepare(workspace, campaign, settings.base_url, published_at)
    renditions = [
        built[name].render(publication, locale)
        for locale in (list(locales) or list(campaign.locales))
        for name in chosen or sorted(built)
    ]
    cap = None if chosen else preview_alert(publication, workspace.alerts, settings.base_url)
    return Preview(publication, renditions, cap)


def write_preview(
    renditions: Iterable[Rendition], out: Path, cap: bytes | None = None
) -> list[Path]:
    """Write each rendition's files under `out/<locale>/`; a second channel's clash is prefixed.
    The CAP alert, one for every language, is `out/cap.xml`."""
    written: list[Path] = []
    if cap is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "cap.xml").write_bytes(cap)
        written.append(out / "cap.xml")
    for rendition in renditions:
        folder = out / rendition.locale
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in rendition.files.items():
            path = folder / name
            if path in written:
                path = folder / f"{rendition.channel}-{name}"
            path.write_bytes(data)
            written.append(path)
    return written

"""What a publication would send: every channel's rendition per locale, without sending."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from broadcaster.channels import Rendition, build_channels
from broadcaster.settings import Settings
from broadcaster.text.render import Publication
from broadcaster.workspace.models import Workspace


@dataclass(frozen=True)
class Preview:
    publication: Publication
    renditions: list[Rendition]


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
    chosen = list(channels) or sorted(built)
    publication = Publication.prepare(workspace, campaign, settings.base_url, published_at)
    renditions = [
        built[name].render(publication, locale)
        for locale in (list(locales) or list(campaign.locales))
        for name in chosen
    ]
    return Preview(publication, renditions)


def write_preview(renditions: Iterable[Rendition], out: Path) -> list[Path]:
    """Write each rendition's files under `out/<locale>/`; a second channel's clash is prefixed."""
    written: list[Path] = []
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

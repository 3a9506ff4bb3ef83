"""Where a bulletin lives: its id and public addresses, known before it is rendered, so a
webhook event or a press release can link the audio the radio channel is about to make."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from broadcaster.text.render import Publication

# Locales and bulletin file names as they may appear in a URL (nothing else is served).
LOCALE = re.compile(r"[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})?")
FILE = re.compile(r"[a-z0-9][a-z0-9-]*\.(?:mp3|opus|zip|txt|json)")
SUFFIXES = ("mp3", "opus", "zip", "txt", "json")


def bulletin_id(campaign_id: str, revision: str) -> str:
    """One bulletin per campaign revision (and locale): `<campaign>-<12 hex digits>`."""
    return f"{campaign_id}-{revision[:12]}"


def bulletin_urls(base_url: str, locale: str, campaign_id: str, revision: str) -> dict[str, str]:
    """The bulletin's MP3, Ogg Opus, signed bundle and script, and the radio podcast feed."""
    stem = f"{base_url.rstrip('/')}/bulletins/{locale}/{bulletin_id(campaign_id, revision)}"
    urls = {suffix: f"{stem}.{suffix}" for suffix in ("mp3", "opus", "zip", "txt")}
    return {**urls, "feed": f"{base_url.rstrip('/')}/feeds/{locale}/radio.rss"}


def bulletin_links(publication: Publication, locale: str) -> dict[str, str] | None:
    """Where the publication's bulletin in `locale` is (or will be, seconds after the radio
    channel's delivery), when the workspace has a radio channel; else None."""
    if not any(config.type == "radio" for config in publication.workspace.channels.values()):
        return None
    campaign = publication.campaign
    spoken = publication.content(locale).locale
    return bulletin_urls(publication.base_url, spoken, campaign.id, campaign.revision)

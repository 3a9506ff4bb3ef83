"""The radio podcast feed per locale (`/feeds/<locale>/radio.rss`): RSS 2.0 with one item
per bulletin, its MP3 as the enclosure, the iTunes tags podcast apps expect, and the
script as the description."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class PodcastInfo:
    """What the feed says of itself, in one locale."""

    title: str
    description: str
    author: str
    category: str
    image: str
    site_url: str
    feed_url: str
    locale: str


def clock(seconds: float) -> str:
    """A duration as itunes:duration writes it: H:MM:SS."""
    whole = round(seconds)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def podcast_feed(info: PodcastInfo, entries: Sequence[tuple[dict[str, Any], str]]) -> bytes:
    """The feed, newest bulletin first; the same entries always give the same bytes."""
    import lxml.etree  # noqa: F401  (feedgen needs lxml.etree imported)
    from feedgen.feed import FeedGenerator

    fg = FeedGenerator()
    fg.load_extension("podcast")
    fg.title(info.title)
    fg.description(info.description or info.title)
    # feedgen's RSS <link> is the last link given: the self link first, then the site.
    fg.link(href=info.feed_url, rel="self")
    fg.link(href=info.site_url, rel="alternate")
    fg.language(info.locale)
    fg.generator("Broadcaster")
    fg.podcast.itunes_author(info.author)
    fg.podcast.itunes_category(info.category)
    fg.podcast.itunes_explicit("no")
    fg.podcast.itunes_summary(info.description or info.title)
    fg.podcast.itunes_type("episodic")
    if info.image:
        fg.podcast.itunes_image(info.image)
    newest = None
    for manifest, script in reversed(entries):  # feedgen puts the last added first
        published = datetime.fromisoformat(manifest["published_at"])
        newest = max(newest or published, published)
        audio = manifest["audio"]
        fe = fg.add_entry()
        fe.id(audio["mp3"])
        fe.guid(audio["mp3"], permalink=False)
        fe.title(manifest["title"])
        fe.link(href=manifest["url"])
        fe.description(script)
        fe.published(published)
        fe.enclosure(audio["mp3"], str(manifest["files"]["bulletin.mp3"]["bytes"]), "audio/mpeg")
        fe.podcast.itunes_duration(clock(manifest["duration_seconds"]))
        fe.podcast.itunes_summary(manifest.get("summary") or manifest["title"])
        fe.podcast.itunes_explicit("no")
        fe.podcast.itunes_author(manifest.get("issuer") or info.author)
    if newest is not None:
        fg.lastBuildDate(newest)
        fg.pubDate(newest)
    data: bytes = fg.rss_str(pretty=True)
    return data

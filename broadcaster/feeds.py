"""Whole feeds per locale and topic: RSS 2.0, Atom 1.0 and JSON Feed 1.1, byte for byte stable."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from feedgen.feed import FeedGenerator

from .channels.feed import FeedOptions, add_entry, json_item
from .channels.website import localized
from .models import Topic
from .render import Publication

ALL_TOPICS = "all"
FORMATS = ("rss", "atom", "json")
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
# The feed-level time of a feed with no entries: fixed, so empty feeds are stable too.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
GENERATOR = "Broadcaster"

# The files of feeds built earlier, by everything that goes into them (see build_feeds).
FeedCache = dict[tuple[object, ...], tuple[tuple[Publication, ...], dict[str, bytes]]]


@dataclass(frozen=True)
class Feed:
    """One feed's selection: what goes into `feeds/{locale}/{topic}.*` and when it last changed."""

    locale: str
    topic: str
    entries: tuple[Publication, ...]
    updated: datetime

    def path(self, fmt: str) -> str:
        """The feed's path in the public tree, for example `feeds/vi/all.rss`."""
        return f"feeds/{self.locale}/{self.topic}.{fmt}"


def _latest_per_campaign(publications: Sequence[Publication]) -> list[Publication]:
    """One publication per campaign, the latest, so a campaign is one entry for ever."""
    latest: dict[str, Publication] = {}
    for publication in publications:
        known = latest.get(publication.campaign.id)
        if known is None or publication.published_at > known.published_at:
            latest[publication.campaign.id] = publication
    # Newest first; the campaign id breaks ties so the input order never matters.
    by_id = sorted(latest.values(), key=lambda p: p.campaign.id)
    return sorted(by_id, key=lambda p: p.published_at, reverse=True)


def select_feeds(
    publications: Sequence[Publication],
    *,
    withdrawn: Collection[str],
    now: datetime,
    options: FeedOptions,
    topics: Mapping[str, Topic],
    locales: Sequence[str],
) -> Iterator[Feed]:
    """Every feed (each locale, each topic plus `all`) with its current entries, newest first."""
    candidates = [p for p in _latest_per_campaign(publications) if p.campaign.id not in withdrawn]
    for locale in locales:
        in_locale = [p for p in candidates if locale in p.campaign.docs]
        for topic in (ALL_TOPICS, *sorted(topics)):
            matching = [p for p in in_locale if topic == ALL_TOPICS or topic in p.campaign.topics]
            current = tuple(p for p in matching if p.campaign.is_current(now))
            entries = current[: options.max_entries]
            # When the feed last changed: an entry was (re)published or became valid, or a
            # campaign expired out of it. Derived from the inputs only, never from the clock.
            changes = [max(p.published_at, p.campaign.valid_from) for p in entries]
            changes += [
                p.campaign.expires
                for p in matching
                if p.campaign.expires is not None and p.campaign.expires <= now
            ]
            yield Feed(locale, topic, entries, max(changes, default=EPOCH))


def _title(options: FeedOptions, topics: Mapping[str, Topic], feed: Feed) -> str:
    title = localized(options.title, feed.locale)
    if feed.topic == ALL_TOPICS:
        return title
    return f"{title} — {topics[feed.topic].name(feed.locale)}"


def _generator(
    feed: Feed, title: str, description: str, publisher: str, base_url: str
) -> FeedGenerator:
    fg = FeedGenerator()
    fg.id(f"{base_url}/{feed.path('atom')}")
    fg.title(title)
    fg.description(description)
    # Atom wants a feed-level author when there may be no entries to carry one.
    fg.author({"name": publisher})
    fg.language(feed.locale)
    # feedgen defaults both to now() and names its own version: pin them for stable bytes.
    fg.updated(feed.updated)
    fg.generator(GENERATOR)
    for publication in feed.entries:
        add_entry(fg, publication, feed.locale)
    return fg


def _xml(fg: FeedGenerator, feed: Feed, fmt: str, base_url: str) -> bytes:
    """The feed as RSS or Atom, with `rel=self` pointing at that format's own URL."""
    fg.link(href=f"{base_url}/{feed.path(fmt)}", rel="self", replace=True)
    # RSS takes its channel <link> from the last link added: the website, not the feed.
    fg.link(href=f"{base_url}/{feed.locale}/", rel="alternate")
    data: bytes = fg.rss_str(pretty=True) if fmt == "rss" else fg.atom_str(pretty=True)
    return data


def _json(feed: Feed, title: str, description: str, publisher: str, base_url: str) -> bytes:
    document: dict[str, Any] = {
        "version": JSON_FEED_VERSION,
        "title": title,
        "home_page_url": f"{base_url}/{feed.locale}/",
        "feed_url": f"{base_url}/{feed.path('json')}",
        "description": description,
        "language": feed.locale,
        "authors": [{"name": publisher}],
        "items": [json_item(publication, feed.locale) for publication in feed.entries],
    }
    return (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode()


def build_feeds(
    publications: Sequence[Publication],
    *,
    withdrawn: Collection[str],
    now: datetime,
    options: FeedOptions,
    base_url: str,
    topics: Mapping[str, Topic],
    locales: Sequence[str],
    cache: FeedCache | None = None,
) -> dict[str, bytes]:
    """Every feed file by path, `feeds/{locale}/{topic}.{rss,atom,json}`; stable bytes.

    With `cache` (a dict the caller keeps between builds), a feed whose entries are the
    same publication objects as in an earlier build, with the same time, titles and base
    URL, reuses that build's bytes instead of being generated again.
    """
    base_url = base_url.rstrip("/")
    files: dict[str, bytes] = {}
    used: FeedCache = {}
    for feed in select_feeds(
        publications,
        withdrawn=withdrawn,
        now=now,
        options=options,
        topics=topics,
        locales=locales,
    ):
        title = _title(options, topics, feed)
        publisher = localized(options.title, feed.locale)
        description = localized(options.description, feed.locale) or title
        key: tuple[object, ...] = (feed.locale, feed.topic, feed.updated, title, description)
        key += (publisher, base_url, *(id(publication) for publication in feed.entries))
        known = cache.get(key) if cache is not None else None
        if known is not None and all(a is b for a, b in zip(known[0], feed.entries, strict=True)):
            built = known[1]
        else:
            fg = _generator(feed, title, description, publisher, base_url)
            built = {
                feed.path("rss"): _xml(fg, feed, "rss", base_url),
                feed.path("atom"): _xml(fg, feed, "atom", base_url),
                feed.path("json"): _json(feed, title, description, publisher, base_url),
            }
        used[key] = (feed.entries, built)
        files.update(built)
    if cache is not None:  # keep what this build used, drop the rest
        cache.clear()
        cache.update(used)
    return files


def feed_times(
    publications: Sequence[Publication],
    *,
    withdrawn: Collection[str],
    now: datetime,
    options: FeedOptions,
    topics: Mapping[str, Topic],
    locales: Sequence[str],
) -> dict[str, datetime]:
    """When each feed file last changed (its `updated`), for `StaticFiles` Last-Modified."""
    times: dict[str, datetime] = {}
    for feed in select_feeds(
        publications,
        withdrawn=withdrawn,
        now=now,
        options=options,
        topics=topics,
        locales=locales,
    ):
        for fmt in FORMATS:
            times[feed.path(fmt)] = feed.updated
    return times

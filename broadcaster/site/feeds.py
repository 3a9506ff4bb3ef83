"""Whole feeds per locale and topic: RSS 2.0, Atom 1.0 and JSON Feed 1.1, byte for byte stable."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from feedgen.feed import FeedGenerator

from broadcaster.site.entries import add_entry, json_item, repair_atom_links
from broadcaster.site.options import FeedSettings
from broadcaster.text.render import Publication
from broadcaster.text.strings import localized
from broadcaster.workspace.attachments import Attachment
from broadcaster.workspace.models import Topic

AttachmentsOf = Callable[[Publication], Sequence[Attachment]]
HUB = "websub"  # the WebSub hub's path: `serve` is the hub of its own feeds

ALL_TOPICS = "all"
FORMATS = ("rss", "atom", "json")
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
# The feed-level time of a feed with no entries: fixed, so empty feeds are stable too.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
GENERATOR = "Broadcaster"


@dataclass(frozen=True)
class Feed:
    """One feed's selection: what goes into `feeds/{locale}/{topic}.*` and when it last changed."""

    locale: str
    topic: str
    entries: tuple[Publication, ...]
    updated: datetime
    # Campaign id -> when it was withdrawn, for the entries that are (marked, not dropped).
    withdrawn: Mapping[str, datetime] = field(default_factory=dict)

    def withdrawn_at(self, publication: Publication) -> datetime | None:
        """When the entry's campaign was withdrawn, or None."""
        return self.withdrawn.get(publication.campaign.id)

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
    withdrawn: Mapping[str, datetime],
    now: datetime,
    options: FeedSettings,
    topics: Mapping[str, Topic],
    locales: Sequence[str],
) -> Iterator[Feed]:
    """Every feed (each locale, each topic plus `all`) with its current entries, newest first.

    A withdrawn campaign (`withdrawn`: campaign id -> when) keeps its place, marked as
    withdrawn and updated at that time, until it would have left the feed anyway.
    """
    candidates = _latest_per_campaign(publications)
    gone = {
        p.campaign.id: withdrawn[p.campaign.id]
        .astimezone(p.published_at.tzinfo)
        .replace(microsecond=0)
        for p in candidates
        if p.campaign.id in withdrawn
    }
    # Once per campaign, not once per feed it is in: whether it is current, when its entry
    # last changed, when it expired out of the feeds.
    current = {id(p) for p in candidates if p.campaign.is_current(now)}
    changed = {
        id(p): max(p.published_at, p.campaign.valid_from, gone.get(p.campaign.id, EPOCH))
        for p in candidates
    }
    expired = {
        id(p): p.campaign.expires
        for p in candidates
        if p.campaign.expires is not None and p.campaign.expires <= now
    }
    for locale in locales:
        in_locale = [p for p in candidates if locale in p.campaign.docs]
        by_topic: dict[str, list[Publication]] = {topic: [] for topic in topics}
        for p in in_locale:
            for topic in dict.fromkeys(p.campaign.topics):
                if topic in by_topic:
                    by_topic[topic].append(p)
        for topic in (ALL_TOPICS, *sorted(topics)):
            matching = in_locale if topic == ALL_TOPICS else by_topic[topic]
            entries = tuple(p for p in matching if id(p) in current)[: options.max_entries]
            # When the feed last changed: an entry was (re)published or became valid, or a
            # campaign expired out of it. Derived from the inputs only, never from the clock.
            changes = [changed[id(p)] for p in entries]
            changes += [expired[id(p)] for p in matching if id(p) in expired]
            marked = {p.campaign.id: gone[p.campaign.id] for p in entries if p.campaign.id in gone}
            yield Feed(locale, topic, entries, max(changes, default=EPOCH), marked)


def _title(options: FeedSettings, topics: Mapping[str, Topic], feed: Feed) -> str:
    title = localized(options.title, feed.locale)
    if feed.topic == ALL_TOPICS:
        return title
    return f"{title} — {topics[feed.topic].name(feed.locale)}"


def _skeleton(
    feed: Feed, fmt: str, title: str, description: str, publisher: str, base_url: str
) -> str:
    """The feed document without entries (RSS or Atom), `rel=self` at that format's URL
    and `rel=hub` at the site's WebSub hub (an atom:link in RSS)."""
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
    fg.link(href=f"{base_url}/{feed.path(fmt)}", rel="self")
    fg.link(href=f"{base_url}/{HUB}", rel="hub")
    # RSS takes its channel <link> from the last link added: the website, not the feed.
    fg.link(href=f"{base_url}/{feed.locale}/", rel="alternate")
    data: bytes = fg.rss_str(pretty=True) if fmt == "rss" else fg.atom_str(pretty=True)
    text = data.decode()
    if fmt == "rss":  # feedgen writes only the self link of RSS
        self_link = f'<atom:link href="{base_url}/{feed.path(fmt)}" rel="self"/>\n'
        at = text.index(self_link) + len(self_link)
        text = text[:at] + f'    <atom:link href="{base_url}/{HUB}" rel="hub"/>\n' + text[at:]
    return text


def _fragments(
    publication: Publication,
    locale: str,
    withdrawn_at: datetime | None,
    attachments: Sequence[Attachment] = (),
) -> dict[str, str]:
    """The campaign's entry in `locale` (marked withdrawn at `withdrawn_at`, when given) as
    feedgen writes it inside a pretty-printed RSS channel, an Atom feed and a JSON Feed
    `items` list, indentation included."""
    fg = FeedGenerator()
    fg.id("urn:entry")
    fg.title("entry")
    fg.description("entry")
    fg.link(href="urn:entry", rel="alternate")
    entry = add_entry(fg, publication, locale, withdrawn_at, attachments)
    fragments = {}
    for fmt, tag in (("rss", "item"), ("atom", "entry")):
        if fmt == "rss":
            text = fg.rss_str(pretty=True).decode()
        else:
            text = repair_atom_links(fg.atom_str(pretty=True).decode(), entry)
        start = text.index(f"<{tag}>")
        start = text.rindex("\n", 0, start) + 1  # keep the indentation
        end = text.rindex(f"</{tag}>") + len(f"</{tag}>\n")
        fragments[fmt] = text[start:end]
    item = json.dumps(
        json_item(publication, locale, withdrawn_at, attachments), ensure_ascii=False, indent=2
    )
    fragments["json"] = textwrap.indent(item, "    ")  # JSON strings hold no raw newline
    return fragments


def _close_tag(fmt: str) -> str:
    return "  </channel>\n" if fmt == "rss" else "</feed>\n"


def _xml(skeleton: str, fmt: str, entries: Sequence[str]) -> bytes:
    """The skeleton with the entries' fragments where feedgen puts entries: last."""
    at = skeleton.rindex(_close_tag(fmt))
    return (skeleton[:at] + "".join(entries) + skeleton[at:]).encode()


def _json(
    feed: Feed, title: str, description: str, publisher: str, base_url: str, items: Sequence[str]
) -> bytes:
    document: dict[str, Any] = {
        "version": JSON_FEED_VERSION,
        "title": title,
        "home_page_url": f"{base_url}/{feed.locale}/",
        "feed_url": f"{base_url}/{feed.path('json')}",
        "description": description,
        "language": feed.locale,
        "authors": [{"name": publisher}],
        "hubs": [{"type": "WebSub", "url": f"{base_url}/{HUB}"}],
        "items": [],
    }
    head = json.dumps(document, ensure_ascii=False, indent=2)
    if items:  # what json.dumps(indent=2) writes for the whole list, from cached items
        head = head.removesuffix("[]\n}") + "[\n" + ",\n".join(items) + "\n  ]\n}"
    return (head + "\n").encode()


EntryKey = tuple[int, str, datetime | None]


@dataclass
class FeedCache:
    """What earlier builds made, kept by the caller between builds (see build_feeds)."""

    # Whole feeds by everything that goes into them: (entries, {path: bytes}).
    feeds: dict[tuple[object, ...], tuple[tuple[Publication, ...], dict[str, bytes]]] = field(
        default_factory=dict
    )
    # Each entry's fragments by (publication id, locale, when withdrawn):
    # (publication, {format: text}). A withdrawn entry is a different fragment.
    entries: dict[EntryKey, tuple[Publication, dict[str, str]]] = field(default_factory=dict)

    def fragments(
        self,
        publication: Publication,
        locale: str,
        withdrawn_at: datetime | None = None,
        attachments: AttachmentsOf | None = None,
    ) -> dict[str, str]:
        """The entry's fragments, made once per publication object, locale and withdrawal
        (a publication's attachments are read once with it, so they never differ)."""
        key = (id(publication), locale, withdrawn_at)
        known = self.entries.get(key)
        if known is not None and known[0] is publication:
            return known[1]
        files = attachments(publication) if attachments is not None else ()
        made = _fragments(publication, locale, withdrawn_at, files)
        self.entries[key] = (publication, made)
        return made


def _feed_files(
    feed: Feed,
    title: str,
    description: str,
    publisher: str,
    base_url: str,
    pieces: Sequence[dict[str, str]],
) -> dict[str, bytes]:
    """The feed's three files (RSS, Atom, JSON Feed) from its entries' fragments."""
    built = {
        feed.path(fmt): _xml(
            _skeleton(feed, fmt, title, description, publisher, base_url),
            fmt,
            [piece[fmt] for piece in pieces],
        )
        for fmt in ("rss", "atom")
    }
    items = [piece["json"] for piece in pieces]
    built[feed.path("json")] = _json(feed, title, description, publisher, base_url, items)
    return built


def build_feeds(
    publications: Sequence[Publication],
    *,
    withdrawn: Mapping[str, datetime],
    now: datetime,
    options: FeedSettings,
    base_url: str,
    topics: Mapping[str, Topic],
    locales: Sequence[str],
    cache: FeedCache | None = None,
    attachments: AttachmentsOf | None = None,
) -> dict[str, bytes]:
    """Every feed file by path, `feeds/{locale}/{topic}.{rss,atom,json}`; stable bytes.

    `attachments` gives each publication's files, carried as enclosures.

    Each entry is serialised once per publication object and locale, and feeds are put
    together from those pieces: the bytes are what feedgen and `json.dumps` write for the
    whole document. With `cache` (an object the caller keeps between builds), the pieces
    are reused across builds, and so is a whole feed whose entries are the same
    publication objects, with the same time, titles and base URL, as in an earlier build.
    """
    base_url = base_url.rstrip("/")
    cache = cache if cache is not None else FeedCache()
    files: dict[str, bytes] = {}
    used_feeds: dict[tuple[object, ...], tuple[tuple[Publication, ...], dict[str, bytes]]] = {}
    used_entries: dict[EntryKey, tuple[Publication, dict[str, str]]] = {}
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
        key += tuple(sorted(feed.withdrawn.items()))
        known = cache.feeds.get(key)
        pieces = [
            cache.fragments(p, feed.locale, feed.withdrawn_at(p), attachments) for p in feed.entries
        ]
        for publication, made in zip(feed.entries, pieces, strict=True):
            entry_key = (id(publication), feed.locale, feed.withdrawn_at(publication))
            used_entries[entry_key] = (publication, made)
        if known is not None and all(a is b for a, b in zip(known[0], feed.entries, strict=True)):
            built = known[1]
        else:
            built = _feed_files(feed, title, description, publisher, base_url, pieces)
        used_feeds[key] = (feed.entries, built)
        files.update(built)
    # Keep what this build used, drop the rest.
    cache.feeds = used_feeds
    cache.entries = used_entries
    return files


def feed_times(
    publications: Sequence[Publication],
    *,
    withdrawn: Mapping[str, datetime],
    now: datetime,
    options: FeedSettings,
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

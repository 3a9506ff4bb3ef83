"""Every feed the site offers, as data: the feeds page, the OPML list and the pages' links.

A feed is listed by a `ListedFeed`: where it is (a path in the public tree, per locale or
once for the site), its formats, and what it contains and how often it changes, in the
interface strings. The site lists `DEFAULT_LISTED`; a part that publishes a feed of its
own (an alert index, say) adds its `ListedFeed` with `PublicSite.list_feed`, and the feeds
page and `/feeds.opml` list it from the next build on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from xml.sax.saxutils import quoteattr

from broadcaster.text import strings
from broadcaster.workspace.models import Topic

ALL_TOPICS = "all"
FORMAT_TYPES = {
    "rss": "application/rss+xml",
    "atom": "application/atom+xml",
    "json": "application/feed+json",
}
FORMAT_NAMES = {"rss": "RSS 2.0", "atom": "Atom 1.0", "json": "JSON Feed 1.1"}
HUB_PATH = "websub"


@dataclass(frozen=True)
class ListedFeed:
    """One kind of feed in the directory.

    `path` is a pattern in the public tree: `{locale}`, `{topic}` and `{format}` are filled
    in. `per_topic` lists it once per topic of the workspace (plus nothing else), `per_locale`
    once per language of the site; otherwise its one path is listed on every language's
    page, and once in the OPML. `title`, `contains` and `changes` are keys of the interface strings
    (broadcaster/defaults/strings.yaml); `{topic}` in a title is the topic's name.
    """

    key: str
    path: str
    formats: tuple[str, ...]
    title: str
    contains: str
    changes: str
    per_locale: bool = True
    per_topic: bool = False


ALL_FEED = ListedFeed(
    "all",
    "feeds/{locale}/all.{format}",
    ("rss", "atom", "json"),
    "feeds_all_title",
    "feeds_all_contains",
    "feeds_changes_publication",
)
TOPIC_FEED = ListedFeed(
    "topic",
    "feeds/{locale}/{topic}.{format}",
    ("rss", "atom", "json"),
    "feeds_topic_title",
    "feeds_topic_contains",
    "feeds_changes_publication",
    per_topic=True,
)
RADIO_FEED = ListedFeed(
    "radio",
    "feeds/{locale}/radio.rss",
    ("rss",),
    "feeds_radio_title",
    "feeds_radio_contains",
    "feeds_changes_bulletin",
)
CAP_INDEX = ListedFeed(
    "cap",
    "cap/index.atom",
    ("atom",),
    "feeds_cap_title",
    "feeds_cap_contains",
    "feeds_changes_alert",
    per_locale=False,
)
DEFAULT_LISTED: tuple[ListedFeed, ...] = (ALL_FEED, TOPIC_FEED, RADIO_FEED)


@dataclass(frozen=True)
class FeedLink:
    """One feed file: its absolute URL, format and media type."""

    format: str
    name: str
    url: str
    media_type: str


@dataclass(frozen=True)
class FeedListing:
    """One feed of the directory in one language, with each format's URL."""

    key: str
    locale: str
    title: str
    contains: str
    changes: str
    links: tuple[FeedLink, ...]


def _formats(listed: ListedFeed, base_url: str, **fill: str) -> tuple[FeedLink, ...]:
    return tuple(
        FeedLink(
            fmt,
            FORMAT_NAMES[fmt],
            f"{base_url}/{listed.path.format(format=fmt, **fill)}",
            FORMAT_TYPES[fmt],
        )
        for fmt in listed.formats
    )


def directory(
    locale: str,
    locales: Sequence[str],
    topics: Mapping[str, Topic],
    base_url: str,
    listed: Sequence[ListedFeed] = DEFAULT_LISTED,
) -> list[FeedListing]:
    """The feeds of `locale`'s part of the directory, described in `locale`."""
    base_url = base_url.rstrip("/")
    found: list[FeedListing] = []
    for feed in listed:
        targets = sorted(topics) if feed.per_topic else [ALL_TOPICS]
        for topic in targets:
            name = topics[topic].name(locale) if topic in topics else ""
            found.append(
                FeedListing(
                    key=f"{feed.key}-{topic}" if feed.per_topic else feed.key,
                    locale=locale,
                    title=strings.text(feed.title, locale).format(topic=name),
                    contains=strings.text(feed.contains, locale).format(topic=name),
                    changes=strings.text(feed.changes, locale),
                    links=_formats(feed, base_url, locale=locale, topic=topic),
                )
            )
    return found


def alternate_links(
    locale: str, base_url: str, listed: Sequence[ListedFeed] = DEFAULT_LISTED
) -> list[FeedLink]:
    """The `<link rel="alternate">` of every page in `locale`: the all-guidance feeds."""
    for feed in listed:
        if feed.key == ALL_FEED.key:
            return list(_formats(feed, base_url.rstrip("/"), locale=locale, topic=ALL_TOPICS))
    return []


def opml(
    locales: Sequence[str],
    topics: Mapping[str, Topic],
    base_url: str,
    title: str,
    listed: Sequence[ListedFeed] = DEFAULT_LISTED,
) -> bytes:
    """OPML 2.0 listing every feed (RSS, Atom) in every language, one outline per feed and
    format, grouped by language; a feed reader imports it whole."""
    base_url = base_url.rstrip("/")
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<opml version="2.0">',
        "  <head>",
        f"    <title>{_text(title)}</title>",
        f"    <docs>{_text('http://opml.org/spec2.opml')}</docs>",
        "  </head>",
        "  <body>",
    ]
    seen: set[str] = set()
    for locale in locales:
        group = strings.text("language_name", locale)
        lines.append(f"    <outline text={quoteattr(group)} title={quoteattr(group)}>")
        for feed in directory(locale, locales, topics, base_url, listed):
            for link in feed.links:
                if link.format == "json" or link.url in seen:
                    continue  # OPML's type="rss" outlines are read as XML feeds
                seen.add(link.url)
                text = f"{feed.title} ({link.name})"
                lines.append(
                    "      <outline"
                    f' type="rss" text={quoteattr(text)} title={quoteattr(text)}'
                    f" xmlUrl={quoteattr(link.url)}"
                    f" htmlUrl={quoteattr(f'{base_url}/{locale}/')}"
                    f" language={quoteattr(locale)}"
                    f" description={quoteattr(feed.contains)}/>"
                )
        lines.append("    </outline>")
    lines += ["  </body>", "</opml>", ""]
    return "\n".join(lines).encode()


def _text(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

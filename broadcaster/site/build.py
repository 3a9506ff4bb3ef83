"""The whole static website as a pure function: publications in, `{path: bytes}` out."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from markupsafe import Markup

from broadcaster.site.directory import DEFAULT_LISTED, ListedFeed, alternate_links, directory, opml
from broadcaster.site.model import (
    Entry,
    Item,
    Status,
    archive_order,
    classify,
    contact_sections,
    current_order,
    latest_per_campaign,
    site_locales,
    topic_groups,
)
from broadcaster.site.options import SiteTitles
from broadcaster.text.render import Publication, Templates
from broadcaster.text.strings import localized
from broadcaster.workspace.attachments import Attachment
from broadcaster.workspace.models import DEFAULT_LOCALE, Topic

SECTIONS = ("home", "contacts", "archive", "feeds")
OPML = "feeds.opml"

# Campaign pages of earlier builds: (publication id, locale, status, changed_at) ->
# (the publication, options, templates and base URL it was rendered with, the page). See
# `build_site(cache=...)`.
PageCache = dict[tuple[int, str, str, datetime], tuple[Publication, object, object, str, bytes]]
# List lines (home, archive, embed) of earlier builds: (template, publication id, locale,
# status, heading, root) -> (the publication and templates it was rendered with, the HTML).
ItemCache = dict[tuple[str, int, str, str, str, str], tuple[Publication, object, Markup]]


@dataclass(frozen=True)
class SitemapUrl:
    loc: str
    lastmod: str | None
    alternates: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class SiteFeeds:
    """What the site says about its feeds and files: the workspace's topics (one feed
    each), the feeds it lists (site/directory.py) and each publication's attachments."""

    topics: Mapping[str, Topic] = field(default_factory=dict)
    listed: tuple[ListedFeed, ...] = DEFAULT_LISTED
    attachments: Callable[[Publication], Sequence[Attachment]] = lambda publication: ()


@dataclass
class SiteCache:
    """What earlier builds rendered, kept by the caller between builds (see build_site)."""

    pages: PageCache = field(default_factory=dict)
    items: ItemCache = field(default_factory=dict)
    # Sitemap `<url>` elements by what they say, with the templates that wrote them.
    sitemap: dict[SitemapUrl, tuple[object, Markup]] = field(default_factory=dict)


def w3c_datetime(moment: datetime) -> str:
    """`2021-07-10T01:00:00+00:00`: sitemap `lastmod`, always in UTC so output is stable."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


class SiteBuilder:
    """Renders every page of one site state; `build_site` is its only caller."""

    def __init__(
        self,
        entries: list[Entry],
        options: SiteTitles,
        templates: Templates,
        base_url: str,
        cache: SiteCache | None = None,
        feeds: SiteFeeds | None = None,
    ) -> None:
        self.entries = entries
        self.feeds = feeds or SiteFeeds()
        self.current = sorted((e for e in entries if e.status == Status.CURRENT), key=current_order)
        self.archived = sorted(
            (e for e in entries if e.status != Status.CURRENT), key=archive_order
        )
        self.options = options
        self.templates = templates
        self.base_url = base_url.rstrip("/")
        self.locales = site_locales(entries)
        self.changed_at = max((e.changed_at for e in entries), default=None)
        self.files: dict[str, bytes] = {}
        self.sitemap: list[SitemapUrl] = []
        self.cache = cache
        self.pages_used: PageCache = {}
        self.items_used: ItemCache = {}

    def url(self, path: str) -> str:
        """The absolute URL of a site-relative path."""
        return f"{self.base_url}/{path}"

    def alternates(self, variants: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """(hreflang, absolute URL) per language version, and x-default: the default locale's."""
        default = dict(variants).get(DEFAULT_LOCALE) or variants[0][1]
        return [(loc, self.url(path)) for loc, path in variants] + [
            ("x-default", self.url(default))
        ]

    def context(
        self, locale: str, file: str, section: str, variants: list[tuple[str, str]]
    ) -> dict[str, Any]:
        """What every page template gets: where it is, its language versions, the site's name.

        `variants` are (locale, page folder) for each language version of the page; `root`
        is the relative way back to the site root from `file`, so the tree works under any
        host or path prefix. Canonical and hreflang URLs are absolute, as crawlers need.
        """
        root = "../" * file.count("/")
        return {
            "locale": locale,
            "lang": locale,
            "base_url": self.base_url,
            "section": section,
            "root": root,
            "site_title": localized(self.options.title, locale),
            "site_description": localized(self.options.description, locale),
            "canonical": self.url(dict(variants)[locale]),
            "alternates": self.alternates(variants),
            "languages": [(loc, root + path) for loc, path in variants],
            "updated": self.changed_at,
            "item_line": self.item_line(root),
            "feed_links": alternate_links(locale, self.base_url, self.feeds.listed),
        }

    def item_line(self, root: str) -> Callable[[Item, str], Markup]:
        """`item_line(item, heading)` for list pages: `website/item.html` (see `line`)."""
        return lambda item, heading: self.line("website/item.html", item, heading, root)

    def line(self, template: str, item: Item, heading: str, root: str) -> Markup:
        """One campaign's line of a list, rendered once per template, campaign, locale,
        status, heading and page depth, and reused by later builds."""
        key = (template, id(item.publication), item.locale, item.status, heading, root)
        known = self.items_used.get(key) or (self.cache.items.get(key) if self.cache else None)
        if known is None or known[0] is not item.publication or known[1] is not self.templates:
            context = {"item": item, "heading": heading, "root": root, "locale": item.locale}
            context["base_url"] = self.base_url
            html = Markup(self.templates.render(template, **context))  # noqa: S704
            known = (item.publication, self.templates, html)
        self.items_used[key] = known
        return known[2]

    def render(self, file: str, template: str, context: dict[str, Any]) -> None:
        """Render `website/<template>` into `file`."""
        self.files[file] = self.templates.render(f"website/{template}", **context).encode()

    def add_to_sitemap(self, variants: list[tuple[str, str]], changed: datetime | None) -> None:
        """One sitemap `<url>` per language version, each listing all of them."""
        lastmod = w3c_datetime(changed) if changed else None
        alternates = self.alternates(variants)
        for _, path in variants:
            self.sitemap.append(SitemapUrl(self.url(path), lastmod, tuple(alternates)))

    def section_pages(self) -> None:
        """Home, contacts and archive in every locale, and the root page."""
        for section in SECTIONS:
            suffix = "" if section == "home" else f"{section}/"
            variants = [(loc, f"{loc}/{suffix}") for loc in self.locales]
            for locale, folder in variants:
                context = self.context(locale, f"{folder}index.html", section, variants)
                context |= self.section(section, locale)
                self.render(f"{folder}index.html", f"{section}.html", context)
            self.add_to_sitemap(variants, self.changed_at)
        # The root is the default locale's home (not a redirect): most readers want it, and
        # its canonical URL and hreflang alternates point search engines at `/{locale}/`.
        homes = [(loc, f"{loc}/") for loc in self.locales]
        context = self.context(DEFAULT_LOCALE, "index.html", "home", homes)
        context |= self.section("home", DEFAULT_LOCALE)
        self.render("index.html", "home.html", context)

    def section(self, section: str, locale: str) -> dict[str, Any]:
        """The context only `section`'s template needs."""
        if section == "home":
            return {"groups": topic_groups(self.current, locale)}
        if section == "contacts":
            return {"sections": contact_sections(self.current, locale)}
        if section == "feeds":
            listing = directory(
                locale, self.locales, self.feeds.topics, self.base_url, self.feeds.listed
            )
            return {"feeds": listing, "hub_url": self.url("websub"), "opml_url": self.url(OPML)}
        return {"items": [Item(entry, locale) for entry in self.archived]}

    def campaign_pages(self) -> None:
        """A page per campaign and locale it is written in; other locales link to those."""
        for entry in sorted(self.entries, key=lambda e: e.id):
            publication = entry.publication
            variants = [(loc, entry.path(loc)) for loc in publication.campaign.locales]
            for locale, folder in variants:
                if self.reuse(entry, locale, f"{folder}index.html"):
                    continue
                context = self.context(locale, f"{folder}index.html", "campaign", variants)
                context.update(
                    publication=publication,
                    status=str(entry.status),
                    updated=entry.changed_at,
                    attachments=self.feeds.attachments(publication),
                )
                self.render(f"{folder}index.html", "page.html", context)
                self.remember(entry, locale, self.files[f"{folder}index.html"])
            self.add_to_sitemap(variants, entry.changed_at)

    def reuse(self, entry: Entry, locale: str, file: str) -> bool:
        """Take the page from the cache when an earlier build rendered it from the same inputs.

        A campaign page depends only on its publication (the same object for the same
        snapshot and workspace), the locale, its status and change time, and the site's
        options, templates and base URL; never on the other campaigns.
        """
        if self.cache is None:
            return False
        key = (id(entry.publication), locale, str(entry.status), entry.changed_at)
        known = self.cache.pages.get(key)
        if known is None:
            return False
        publication, options, templates, base_url, page = known
        if not (
            publication is entry.publication
            and options is self.options
            and templates is self.templates
            and base_url == self.base_url
        ):
            return False
        self.files[file] = page
        self.pages_used[key] = known
        return True

    def remember(self, entry: Entry, locale: str, page: bytes) -> None:
        key = (id(entry.publication), locale, str(entry.status), entry.changed_at)
        self.pages_used[key] = (
            entry.publication,
            self.options,
            self.templates,
            self.base_url,
            page,
        )

    def embeds(self) -> None:
        """`embed/{locale}.html`: current guidance for other portals' iframes."""
        for locale in self.locales:
            variants = [(loc, f"embed/{loc}.html") for loc in self.locales]
            context = self.context(locale, f"embed/{locale}.html", "embed", variants)
            items = [Item(entry, locale) for entry in self.current]
            context.update(
                items=items,
                lines=[self.line("website/embed-item.html", item, "", "") for item in items],
                home_url=self.url(f"{locale}/"),
            )
            self.render(f"embed/{locale}.html", "embed.html", context)

    def build(self) -> dict[str, bytes]:
        """Every file, sorted by path."""
        self.section_pages()
        self.campaign_pages()
        self.embeds()
        self.sitemap.sort(key=lambda url: url.loc)
        known = self.cache.sitemap if self.cache is not None else {}
        blocks: dict[SitemapUrl, tuple[object, Markup]] = {}
        for url in self.sitemap:
            block = known.get(url)
            if block is None or block[0] is not self.templates:
                xml = self.templates.render("website/sitemap-url.xml", url=url)
                block = (self.templates, Markup(xml))  # noqa: S704
            blocks[url] = block
        xml = self.templates.render(
            "website/sitemap.xml", urls=self.sitemap, blocks=[blocks[u][1] for u in self.sitemap]
        )
        self.files["sitemap.xml"] = xml.encode()
        title = localized(self.options.title, DEFAULT_LOCALE)
        self.files[OPML] = opml(
            self.locales, self.feeds.topics, self.base_url, title, self.feeds.listed
        )
        if self.cache is not None:  # keep what this build used, drop the rest
            self.cache.pages = self.pages_used
            self.cache.items = self.items_used
            self.cache.sitemap = blocks
        return dict(sorted(self.files.items()))


def build_site(
    publications: Sequence[Publication],
    *,
    withdrawn: Collection[str],
    now: datetime,
    options: SiteTitles,
    templates: Templates,
    base_url: str,
    cache: SiteCache | None = None,
    feeds: SiteFeeds | None = None,
) -> dict[str, bytes]:
    """Every file of the static site by relative path; the same inputs give the same bytes.

    `feeds` names the topics and feeds the feeds page, the OPML list and every page's
    `<link rel="alternate">` show, and the attachments campaign pages link.

    `cache`, an object the caller keeps between builds, lets a build reuse the campaign
    pages and list lines an earlier one rendered from the same publication objects (for
    example those `PublicSite` keeps per snapshot) instead of rendering them again.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    entries = []
    for publication in latest_per_campaign(publications):
        status = classify(publication, withdrawn, now)
        if status is not None:
            entries.append(Entry(publication, status))
    return SiteBuilder(entries, options, templates, base_url, cache, feeds).build()


def next_change(
    publications: Sequence[Publication], withdrawn: Collection[str], now: datetime
) -> datetime | None:
    """The first `valid_from` or `expires` after `now`: when the site must be rebuilt."""
    moments = [
        moment
        for publication in latest_per_campaign(publications)
        if publication.campaign.id not in withdrawn
        for moment in (publication.campaign.valid_from, publication.campaign.expires)
        if moment is not None and moment > now
    ]
    return min(moments, default=None)


def built_as_of(
    publications: Sequence[Publication], withdrawn: Mapping[str, datetime], now: datetime
) -> datetime | None:
    """When what a build is made of last changed, from the store alone (so every node says
    the same): the newest publication or withdrawal, or start or expiry passed by `now`."""
    moments = [p.published_at for p in publications]
    moments += [
        moment
        for p in publications
        for moment in (p.campaign.valid_from, p.campaign.expires)
        if moment is not None and moment <= now
    ]
    moments += withdrawn.values()
    return max(moments, default=None)

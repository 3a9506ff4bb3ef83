"""The feed channel: a campaign as an RSS 2.0 item, an Atom 1.0 entry and a JSON Feed item."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Self

from pydantic import Field

from broadcaster.channels.base import (
    ChannelOptions,
    DeliveryJob,
    DeliveryRejected,
    Rendition,
    Resources,
    masked,
)
from broadcaster.site.entries import add_entry, json_item, repair_atom_links
from broadcaster.text.render import Publication
from broadcaster.text.strings import localized
from broadcaster.workspace.models import DEFAULT_LOCALE
from broadcaster.workspace.schema import LocalizedText

if TYPE_CHECKING:
    from feedgen.entry import FeedEntry
    from feedgen.feed import FeedGenerator

# feedgen and lxml are imported where a feed entry is built: a process that only sends
# mail (a fan-out worker) does not load them.

ATOM = "http://www.w3.org/2005/Atom"


class FeedOptions(ChannelOptions):
    type: Literal["feed"]
    title: LocalizedText
    description: LocalizedText = Field(default_factory=dict)
    max_entries: int = Field(default=50, ge=1, le=1000)


class FeedChannel:
    """Renders feed entries; whole feeds per locale and topic are built by `serve`."""

    Options: ClassVar[type[ChannelOptions]] = FeedOptions
    type: ClassVar[str] = "feed"
    rebuild_order: ClassVar[int] = 1

    def __init__(self, name: str, options: FeedOptions, resources: Resources) -> None:
        self.name = name
        self.options = options
        self.public = resources.public

    @classmethod
    def from_config(cls, name: str, options: Any, resources: Resources) -> Self:
        return cls(name, options, resources)

    async def start(self, stack: AsyncExitStack) -> None:
        """Nothing to open: the public site belongs to the service."""

    async def rebuild(self) -> str:
        """Rebuild every feed from the store and swap them in atomically."""
        if self.public is None:
            raise DeliveryRejected("feeds are only built by `broadcaster serve`")
        return await self.public.rebuild_feeds(self.name, self.options)

    async def deliver(self, job: DeliveryJob) -> str:
        """Rebuild the feeds: they list every campaign delivered so far."""
        return await self.rebuild()

    def _generator(self, publication: Publication, locale: str) -> tuple[FeedGenerator, FeedEntry]:
        from feedgen.feed import FeedGenerator

        fg = FeedGenerator()
        fg.id(f"{publication.base_url}/feeds/{locale}/all.atom")
        fg.title(localized(self.options.title, locale))
        fg.description(
            localized(self.options.description, locale) or localized(self.options.title, locale)
        )
        fg.link(href=f"{publication.base_url}/{locale}/", rel="alternate")
        fg.link(href=f"{publication.base_url}/feeds/{locale}/all.atom", rel="self")
        fg.language(locale)
        fg.updated(publication.published_at)
        fg.lastBuildDate(publication.published_at)
        return fg, add_entry(fg, publication, locale)

    async def recipients(self, publication: Publication) -> AsyncIterator[list[tuple[str, str]]]:
        """One delivery: rebuilding the feeds covers every locale and topic."""
        yield [("", DEFAULT_LOCALE)]

    def render(self, publication: Publication, locale: str) -> Rendition:
        """The RSS item, Atom entry and JSON Feed item for the campaign in `locale`."""
        from lxml import etree

        fg, entry = self._generator(publication, locale)
        rss_item = etree.fromstring(fg.rss_str()).find("channel/item")
        atom = repair_atom_links(fg.atom_str().decode(), entry)
        atom_entry = etree.fromstring(atom.encode()).find(f"{{{ATOM}}}entry")
        assert rss_item is not None
        assert atom_entry is not None
        preview = etree.Element("feed-entry", nsmap={"atom": ATOM})
        preview.append(rss_item)
        preview.append(atom_entry)
        etree.indent(preview)
        xml = etree.tostring(preview, xml_declaration=True, encoding="UTF-8", pretty_print=True)
        item = json.dumps(json_item(publication, locale), ensure_ascii=False, indent=2) + "\n"
        content = publication.content(locale)
        return Rendition(
            channel=self.name,
            locale=locale,
            media_type="application/atom+xml; charset=utf-8",
            body=etree.tostring(atom_entry, encoding="UTF-8"),
            summary=f"entry {publication.entry_id(locale)}: {content.title}",
            files={"feed-entry.xml": xml, "feed-entry.json": item.encode()},
        )

    def describe(self) -> Mapping[str, object]:
        return masked(self.options)

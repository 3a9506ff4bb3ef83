"""The feed channel: a campaign as an RSS 2.0 item, an Atom 1.0 entry and a JSON Feed item."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Self

from pydantic import Field

from broadcaster.channels.base import (
    ChannelOptions,
    DeliveryJob,
    DeliveryRejected,
    Outcome,
    Progress,
    Rendition,
    Resources,
    RetryLater,
    deliver_one,
    masked,
)
from broadcaster.channels.websub import FeedHub, WebSubOptions
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
    websub: WebSubOptions = Field(default_factory=WebSubOptions)


MAX_BATCH = 1000


class FeedChannel:
    """Renders feed entries; whole feeds per locale and topic are built by `serve`, which
    is also their WebSub hub (channels/websub.py): a publication here is also one delivery
    per subscriber to a feed it is in, and all of them are delivered in batches."""

    Options: ClassVar[type[ChannelOptions]] = FeedOptions
    type: ClassVar[str] = "feed"
    rebuild_order: ClassVar[int] = 1

    def __init__(self, name: str, options: FeedOptions, resources: Resources) -> None:
        self.name = name
        self.options = options
        self.public = resources.public
        store = resources.partners.hub if resources.partners is not None else None
        self.hub = FeedHub(options.websub, store, resources.public, resources.settings.base_url)

    @classmethod
    def from_config(cls, name: str, options: Any, resources: Resources) -> Self:
        return cls(name, options, resources)

    async def start(self, stack: AsyncExitStack) -> None:
        """Open the hub's HTTP session (the public site belongs to the service)."""
        if self.options.websub.enabled:
            await self.hub.start(stack)

    async def rebuild(self) -> str:
        """Rebuild every feed from the store and swap them in atomically."""
        if self.public is None:
            raise DeliveryRejected("feeds are only built by `broadcaster serve`")
        return await self.public.rebuild_feeds(self.name, self.options)

    async def deliver(self, job: DeliveryJob) -> str:
        """Rebuild the feeds (they list every campaign delivered so far), or distribute
        them to one WebSub subscriber."""
        if job.delivery.recipient:
            return await deliver_one(self, job)
        return await self.rebuild()

    async def deliver_many(self, jobs: Sequence[DeliveryJob], progress: Progress) -> None:
        """The rebuild (recipient '') and the distributions to subscribers, in that order,
        each outcome reported as the batch goes."""
        for index, job in enumerate(jobs):
            if not job.delivery.recipient:
                outcome: Outcome
                try:
                    outcome = await self.rebuild()
                except (DeliveryRejected, RetryLater) as exc:
                    outcome = exc
                progress.report(index, outcome)
        pushes = [(index, job) for index, job in enumerate(jobs) if job.delivery.recipient]
        if pushes:
            await self.hub.distribute(pushes, self.rebuild, progress)

    async def withdrawal_recipients(
        self, campaign_id: str, before: int | None = None
    ) -> list[tuple[str, str]]:
        """The WebSub subscribers to a feed the campaign is in: a withdrawal changes those
        feeds (its entry is marked withdrawn), so they get them again."""
        return await self.hub.withdrawal_recipients(campaign_id)

    def render_withdrawal(self, publication: Publication, locale: str, at: datetime) -> Rendition:
        """The entry, for the record: subscribers get the whole feed as rebuilt then."""
        rendition = self.render(publication, locale)
        summary = f"withdrawal of {publication.campaign.id}: feeds pushed to WebSub subscribers"
        return replace(rendition, summary=summary)

    def batch_limit(self, lease: timedelta) -> int:
        """Up to 1,000 per batch: the hub starts no distribution it could not finish before
        the lease ends and hands those back untried (see FeedHub.distribute)."""
        return MAX_BATCH

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
        """One delivery that rebuilds the feeds (every locale and topic), then one per
        WebSub subscriber to a feed the campaign is in."""
        yield [("", DEFAULT_LOCALE)]
        async for batch in self.hub.recipients(publication):
            yield batch

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

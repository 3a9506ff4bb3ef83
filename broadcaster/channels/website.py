"""The website channel: an accessible, mobile-first page per campaign and locale."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack
from typing import Any, ClassVar, Literal, Self

from pydantic import Field

from broadcaster.channels.base import (
    ChannelOptions,
    DeliveryJob,
    DeliveryRejected,
    Rendition,
    Resources,
    masked,
)
from broadcaster.text.render import Publication
from broadcaster.text.strings import localized, text
from broadcaster.workspace.models import DEFAULT_LOCALE
from broadcaster.workspace.schema import LocalizedText


class WebsiteOptions(ChannelOptions):
    type: Literal["website"]
    title: LocalizedText
    description: LocalizedText = Field(default_factory=dict)


class WebsiteChannel:
    """Renders a campaign page; delivering rebuilds the whole site from the store."""

    Options: ClassVar[type[ChannelOptions]] = WebsiteOptions
    type: ClassVar[str] = "website"
    rebuild_order: ClassVar[int] = 0  # the pages first: the feeds link to them

    def __init__(self, name: str, options: WebsiteOptions, resources: Resources) -> None:
        self.name = name
        self.options = options
        self.templates = resources.templates
        self.public = resources.public

    @classmethod
    def from_config(cls, name: str, options: Any, resources: Resources) -> Self:
        return cls(name, options, resources)

    async def start(self, stack: AsyncExitStack) -> None:
        """Nothing to open: the public site belongs to the service."""

    async def rebuild(self) -> str:
        """Rebuild the whole site from the store and swap it in atomically."""
        if self.public is None:
            raise DeliveryRejected("the website is only built by `broadcaster serve`")
        return await self.public.rebuild_site(self.name, self.options, self.templates)

    async def deliver(self, job: DeliveryJob) -> str:
        """Rebuild the site: it shows every campaign delivered so far, this one included."""
        return await self.rebuild()

    async def recipients(self, publication: Publication) -> AsyncIterator[list[tuple[str, str]]]:
        """One delivery: rebuilding the site covers every locale."""
        yield [("", DEFAULT_LOCALE)]

    def render(self, publication: Publication, locale: str) -> Rendition:
        """The complete HTML page for the campaign in `locale`."""
        html = self.templates.render(
            "website/page.html",
            publication=publication,
            locale=locale,
            site_title=localized(self.options.title, locale),
        )
        content = publication.content(locale)
        urgent = f" [{text('urgent', locale)}]" if publication.campaign.priority == "urgent" else ""
        return Rendition(
            channel=self.name,
            locale=locale,
            media_type="text/html; charset=utf-8",
            body=html.encode(),
            summary=f"page {publication.url(locale)}{urgent}: {content.title}",
            files={"page.html": html.encode()},
        )

    def describe(self) -> Mapping[str, object]:
        return masked(self.options)

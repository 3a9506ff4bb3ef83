"""The facebook channel: a campaign as a post on one Facebook page (Graph API).

A post links the campaign's page (`/{page-id}/feed`), or shows its first image with the
text as the caption (`/{page-id}/photos`). A later revision edits the post's text; a
withdrawal deletes the post, or edits it to a withdrawal notice when Facebook will not
delete it. See docs/fanpages.md for the page token and what each error means.
"""

from __future__ import annotations

import json
from contextlib import AsyncExitStack
from typing import Any, ClassVar, Literal

from pydantic import Field

from broadcaster.channels.base import ChannelOptions, Rendition
from broadcaster.channels.fanpage import FanpageChannel, FanpageOptions
from broadcaster.fanpages.errors import Failure, PlatformError
from broadcaster.fanpages.graph import GraphClient
from broadcaster.fanpages.store import FanpageStore
from broadcaster.fanpages.tables import PostState
from broadcaster.fanpages.text import post_parts, post_text
from broadcaster.outbox.records import ClaimedDelivery
from broadcaster.settings import Settings
from broadcaster.text.render import Publication, Templates

GRAPH_VERSION = "v21.0"


class FacebookOptions(FanpageOptions):
    type: Literal["facebook"]
    page_id: str = Field(pattern=r"^[0-9]{1,32}$")
    api_base: str = Field(default="https://graph.facebook.com", pattern=r"^https?://")
    api_version: str = Field(default=GRAPH_VERSION, pattern=r"^v[0-9]+\.[0-9]+$")


class FacebookChannel(FanpageChannel):
    """Posts, edits and takes down one page's posts through the Graph API."""

    Options: ClassVar[type[ChannelOptions]] = FacebookOptions
    type: ClassVar[str] = "facebook"
    options: FacebookOptions

    @property
    def page(self) -> str:
        return self.options.page_id

    def __init__(
        self,
        name: str,
        options: FacebookOptions,
        templates: Templates,
        settings: Settings,
        store: FanpageStore | None,
    ) -> None:
        super().__init__(name, options, templates, settings, store)
        o = options
        self.client = GraphClient(o.api_base, o.api_version, o.page_id, o.token, o.timeout)

    async def start(self, stack: AsyncExitStack) -> None:
        await self.client.start(stack)

    def render(self, publication: Publication, locale: str) -> Rendition:
        """The post's text, with the link (or the image) it goes out with."""
        parts = post_parts(
            publication, locale, hashtags=self.options.hashtags, tags=self.options.tags
        )
        message = post_text(parts)
        body = {
            "action": "publish",
            "message": message,
            "link": parts.link,
            "image_url": parts.image_url,
        }
        how = f"photo {parts.image_url}" if parts.image_url else f"link {parts.link}"
        return Rendition(
            channel=self.name,
            locale=locale,
            media_type="application/json",
            body=json.dumps(body, ensure_ascii=False, sort_keys=True).encode(),
            summary=f"post on page {self.page} with {how} ({len(message)} characters)",
            files={"facebook.txt": (message + "\n").encode()},
        )

    async def _act(self, store: FanpageStore, delivery: ClaimedDelivery, body: Any) -> str:
        key = (self.name, self.page, delivery.campaign_id)
        post = await store.post(*key)
        client = self.client
        if body["action"] == "withdraw":
            if post is None or post.state != PostState.LIVE or post.post_id is None:
                return "no post on the page to take down"
            how = await self._take_down(post.post_id, body["notice"])
            await store.save(*key, delivery.id, PostState.WITHDRAWN)
            return f"post {post.post_id} {how}"
        if post is not None and post.state == PostState.LIVE and post.post_id is not None:
            try:
                await client.edit(post.post_id, body["message"])
            except PlatformError as exc:
                if exc.failure != Failure.GONE:
                    raise
            else:
                await store.save(*key, delivery.id, PostState.LIVE)
                return f"post {post.post_id} edited"
        if body.get("image_url"):
            post_id = await client.post_photo(body["image_url"], body["message"])
        else:
            post_id = await client.post_link(body["message"], body["link"])
        await store.save(*key, delivery.id, PostState.LIVE, post_id=post_id)
        return f"post {post_id}"

    async def _take_down(self, post_id: str, notice: str) -> str:
        """Delete the post; where Facebook refuses, edit it to the withdrawal notice."""
        try:
            await self.client.delete(post_id)
        except PlatformError as exc:
            if exc.failure == Failure.GONE:
                return "was already gone"
            if exc.failure != Failure.REJECTED:
                raise
            await self.client.edit(post_id, notice)
            return "edited to a withdrawal notice (Facebook would not delete it)"
        return "deleted"

"""The zalo channel: a campaign as an article of one Zalo Official Account, broadcast to
its followers (Zalo OA Open API).

The article is created (`article/create`, then `article/verify` for its id) and sent to
the followers (`oa/message`) within the OA's broadcast quota: when the quota is used up,
the broadcast waits until Zalo renews it. A later revision updates the article without a
second broadcast; a withdrawal removes it, or rewrites it to a withdrawal notice when
Zalo will not remove it. See docs/fanpages.md for the OA access token and the error codes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from contextlib import AsyncExitStack
from html import escape
from typing import Any, ClassVar, Literal

from pydantic import Field

from broadcaster.channels.base import ChannelOptions, Rendition
from broadcaster.channels.fanpage import FanpageChannel, FanpageOptions
from broadcaster.fanpages.errors import Failure, PlatformError
from broadcaster.fanpages.store import FanpageStore, Post
from broadcaster.fanpages.tables import PostState
from broadcaster.fanpages.text import PostParts, post_parts, post_text
from broadcaster.fanpages.zalo import ZaloClient
from broadcaster.outbox.records import ClaimedDelivery
from broadcaster.settings import Settings
from broadcaster.text.render import Publication, Templates

# The Article API's limits, in characters.
TITLE_LIMIT, AUTHOR_LIMIT, DESCRIPTION_LIMIT = 150, 50, 300
BODY_LIMIT = 20000


class ZaloOptions(FanpageOptions):
    type: Literal["zalo"]
    oa_id: str = Field(pattern=r"^[0-9]{1,32}$")
    api_base: str = Field(default="https://openapi.zalo.me", pattern=r"^https?://")
    api_version: str = Field(default="v2.0", pattern=r"^v[0-9]+\.[0-9]+$")
    broadcast: bool = True
    broadcast_target: dict[str, str] = Field(default_factory=dict)
    cover: str = Field(default="", pattern=r"^(https?://.*)?$")


def article(parts: PostParts, author: str, cover: str) -> dict[str, Any]:
    """The Article API's `normal` article: HTML paragraphs, no Markdown."""
    plain = post_text(PostParts(**{**parts.__dict__, "title": ""}), BODY_LIMIT)
    paragraphs = "".join(
        "<p>" + "<br>".join(escape(line) for line in block.splitlines()) + "</p>"
        for block in plain.split("\n\n")
    )
    document: dict[str, Any] = {
        "type": "normal",
        "title": parts.title[:TITLE_LIMIT],
        "author": author[:AUTHOR_LIMIT],
        "description": parts.summary[:DESCRIPTION_LIMIT],
        "body": [{"type": "text", "content": paragraphs}],
        "status": "show",
        "comment": "show",
    }
    photo = parts.image_url or cover
    if photo:
        document["cover"] = {"cover_type": "photo", "photo_url": photo, "status": "show"}
    return document


class ZaloChannel(FanpageChannel):
    """Creates, broadcasts, updates and removes one OA's articles."""

    Options: ClassVar[type[ChannelOptions]] = ZaloOptions
    type: ClassVar[str] = "zalo"
    options: ZaloOptions

    def __init__(
        self,
        name: str,
        options: ZaloOptions,
        templates: Templates,
        settings: Settings,
        store: FanpageStore | None,
    ) -> None:
        super().__init__(name, options, templates, settings, store)
        o = options
        self.client = ZaloClient(o.api_base, o.api_version, o.token, o.timeout)

    @property
    def page(self) -> str:
        return self.options.oa_id

    async def start(self, stack: AsyncExitStack) -> None:
        await self.client.start(stack)

    def render(self, publication: Publication, locale: str) -> Rendition:
        """The article, and whether it is broadcast to the followers."""
        parts = post_parts(
            publication, locale, hashtags=self.options.hashtags, tags=self.options.tags
        )
        author = publication.campaign.issuer_name(parts.locale)
        body = {
            "action": "publish",
            "article": article(parts, author, self.options.cover),
            "broadcast": self.options.broadcast,
        }
        pretty = json.dumps(body, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
        then = ", broadcast to followers" if self.options.broadcast else ""
        return Rendition(
            channel=self.name,
            locale=locale,
            media_type="application/json",
            body=json.dumps(body, ensure_ascii=False, sort_keys=True).encode(),
            summary=f"article on OA {self.page}{then}",
            files={"zalo.json": pretty.encode()},
        )

    def _withdrawal_extras(self, notice: str) -> Mapping[str, Any]:
        title, _, rest = notice.partition("\n\n")
        body = "".join(f"<p>{escape(block)}</p>" for block in rest.split("\n\n") if block)
        notice_article = {
            "type": "normal",
            "title": title[:TITLE_LIMIT],
            "author": "",
            "description": title[:DESCRIPTION_LIMIT],
            "body": [{"type": "text", "content": body}],
            "status": "show",
            "comment": "hide",
        }
        return {"article": notice_article}

    async def _act(self, store: FanpageStore, delivery: ClaimedDelivery, body: Any) -> str:
        key = (self.name, self.page, delivery.campaign_id)
        post = await store.post(*key)
        if body["action"] == "withdraw":
            if post is None or post.state == PostState.WITHDRAWN or post.post_id is None:
                return "no article to take down"
            how = await self._take_down(post.post_id, body["article"])
            await store.save(*key, delivery.id, PostState.WITHDRAWN)
            return f"article {post.post_id} {how}"
        if post is not None and post.state == PostState.LIVE and post.post_id is not None:
            if post.delivery_id == delivery.id:
                return f"article {post.post_id}, broadcast {post.broadcast_id}"
            token = await self.client.update_article(post.post_id, body["article"])
            await self.client.verify(token)
            await store.save(*key, delivery.id, PostState.LIVE)
            return f"article {post.post_id} updated"
        article_id = await self._made(store, post, delivery, body["article"])
        resumed = post is not None and post.state == PostState.PENDING
        mine = resumed and post is not None and post.delivery_id == delivery.id
        broadcast_id = post.broadcast_id if mine and post is not None else None
        if body.get("broadcast") and broadcast_id is None:
            broadcast_id = await self.client.broadcast(article_id, self.options.broadcast_target)
        await store.save(
            *key, delivery.id, PostState.LIVE, post_id=article_id, broadcast_id=broadcast_id
        )
        return f"article {article_id}" + (f", broadcast {broadcast_id}" if broadcast_id else "")

    async def _made(
        self,
        store: FanpageStore,
        post: Post | None,
        delivery: ClaimedDelivery,
        document: Mapping[str, Any],
    ) -> str:
        """The article's id: made now, or (a retry) the one this delivery started making."""
        key = (self.name, self.page, delivery.campaign_id)
        if post is not None and post.state == PostState.PENDING and post.delivery_id == delivery.id:
            if post.post_id is not None:
                return post.post_id
            token = post.pending_token
        else:
            token = None
        if token is None:
            token = await self.client.create_article(document)
            await store.save(
                *key, delivery.id, PostState.PENDING, pending_token=token, broadcast_id=None
            )
        article_id = await self.client.verify(token)
        await store.save(*key, delivery.id, PostState.PENDING, post_id=article_id)
        return article_id

    async def _take_down(self, article_id: str, notice: Mapping[str, Any]) -> str:
        """Remove the article; where Zalo refuses, rewrite it to the withdrawal notice."""
        try:
            await self.client.remove_article(article_id)
        except PlatformError as exc:
            if exc.failure != Failure.REJECTED:
                raise
            await self.client.verify(await self.client.update_article(article_id, notice))
            return "rewritten to a withdrawal notice (Zalo would not remove it)"
        return "removed"

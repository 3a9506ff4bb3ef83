"""What the fan-page channels (`facebook`, `zalo`) share: options, recipients, withdrawal,
and how a platform's refusal becomes a retry or a permanent failure with an alert.

One channel file is one page (or OA): one delivery per publication, to that page, in the
channel's locale, when the campaign has one of the channel's topics (or it lists none).
The post on the page is kept in the store (`fanpages/store.py`): a later revision of the
campaign edits it, a withdrawal takes it down.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Self

from pydantic import Field, ValidationInfo, field_validator

from broadcaster.channels.base import (
    ChannelOptions,
    Deferred,
    DeliveryJob,
    DeliveryRejected,
    Rendition,
    Resources,
    RetryLater,
    masked,
)
from broadcaster.fanpages.errors import REMEDY, Failure, PlatformError
from broadcaster.fanpages.store import FanpageStore
from broadcaster.fanpages.text import withdrawal_text
from broadcaster.outbox.records import ClaimedDelivery
from broadcaster.outbox.tables import DeliveryStatus
from broadcaster.outbox.views import OutboxViews
from broadcaster.settings import Settings
from broadcaster.text.render import Publication, Templates
from broadcaster.workspace.models import DEFAULT_LOCALE

log = logging.getLogger(__name__)
PENDING = (DeliveryStatus.CREATED, DeliveryStatus.SENDING, DeliveryStatus.TEMPORARY_FAILURE)
# How soon a delivery waiting behind an earlier one of its campaign looks again.
ORDER_WAIT = timedelta(seconds=1)


class FanpageOptions(ChannelOptions):
    """Options every fan-page channel has."""

    enabled: bool = True
    token: str = Field(default="", json_schema_extra={"secret": True}, validate_default=True)
    locale: str = Field(default=DEFAULT_LOCALE, pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
    topics: list[str] = Field(default_factory=list)
    hashtags: bool = True
    tags: dict[str, str] = Field(default_factory=dict)
    timeout: float = Field(default=30, gt=0, le=120)

    @field_validator("token")
    @classmethod
    def _token_when_enabled(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("enabled", True) and not value.strip():
            raise ValueError(
                "the token is empty: set its environment variable, or write `enabled: false`"
            )
        return value


class FanpageChannel:
    """The shared half of a fan-page channel; `_act` does the platform's part."""

    Options: ClassVar[type[ChannelOptions]]
    type: ClassVar[str]

    def __init__(
        self,
        name: str,
        options: FanpageOptions,
        templates: Templates,
        settings: Settings,
        store: FanpageStore | None,
    ) -> None:
        self.name = name
        self.options = options
        self.templates = templates
        self.settings = settings
        self.store = store

    @classmethod
    def from_config(cls, name: str, options: Any, resources: Resources) -> Self:
        return cls(name, options, resources.templates, resources.settings, resources.fanpages)

    @property
    def page(self) -> str:
        """The page (or OA) id: the recipient of every delivery on this channel."""
        raise NotImplementedError

    async def start(self, stack: AsyncExitStack) -> None:
        """Open the platform client's HTTP session (closed with `stack`)."""
        raise NotImplementedError

    async def _act(self, store: FanpageStore, delivery: ClaimedDelivery, body: Any) -> str:
        """Post, edit or take down; a receipt naming the platform's post id."""
        raise NotImplementedError

    def wants(self, publication: Publication) -> bool:
        """Whether this page carries the campaign: enabled, and one of its topics (if any)."""
        topics = set(self.options.topics)
        carried = not topics or bool(topics & set(publication.campaign.topics))
        return self.options.enabled and carried

    async def recipients(self, publication: Publication) -> AsyncIterator[list[tuple[str, str]]]:
        """The page, once, in the channel's locale (the default one if the workspace lacks it)."""
        if self.wants(publication):
            locales = publication.workspace.locales
            locale = self.options.locale if self.options.locale in locales else DEFAULT_LOCALE
            yield [(self.page, locale)]

    async def withdrawal_recipients(
        self, campaign_id: str, before: int | None = None
    ) -> list[tuple[str, str]]:
        """The page, if the campaign has a post on it."""
        if self.store is None:
            return []
        pages = await self.store.live_pages(self.name, campaign_id)
        return [(page, self.options.locale) for page in pages if page == self.page]

    def render_withdrawal(self, publication: Publication, locale: str, at: datetime) -> Rendition:
        """Take the post down; the notice is what it says where it cannot be deleted."""
        notice = withdrawal_text(publication, locale)
        body = {"action": "withdraw", "notice": notice, **self._withdrawal_extras(notice)}
        return Rendition(
            channel=self.name,
            locale=locale,
            media_type="application/json",
            body=json.dumps(body, ensure_ascii=False, sort_keys=True).encode(),
            summary=f"take down the post of {publication.campaign.id} on {self.page}",
            files={f"{self.type}-withdrawal.txt": (notice + "\n").encode()},
        )

    def _withdrawal_extras(self, notice: str) -> Mapping[str, Any]:
        return {}

    async def deliver(self, job: DeliveryJob) -> str:
        """Post (or edit, or take down); a receipt with the post id, or RetryLater /
        DeliveryRejected. A permanent failure raises the channel's alert."""
        if self.store is None:
            raise RetryLater(f"channel {self.name}: no store to keep its posts in")
        delivery = job.delivery
        waits = await self._earlier_pending(self.store, delivery)
        if waits is not None:
            raise waits
        body = json.loads(await job.rendition())
        try:
            receipt = await self._act(self.store, delivery, body)
        except PlatformError as exc:
            if exc.retryable:
                raise RetryLater(str(exc), exc.retry_after) from None
            failure = exc.failure if exc.failure in REMEDY else Failure.REJECTED
            reason = f"{exc}; {REMEDY[failure]}"
            log.error("channel %s: %s", self.name, reason)
            await self.store.raise_alert(self.name, str(exc.failure), reason, delivery.id)
            raise DeliveryRejected(reason) from None
        await self.store.clear_alert(self.name)
        return receipt

    async def _earlier_pending(
        self, store: FanpageStore, delivery: ClaimedDelivery
    ) -> Deferred | None:
        """Why the delivery must wait: an earlier one of the same campaign to the page is
        still queued or retrying (so a correction never overtakes the first post)."""
        history = await OutboxViews(store.engine).campaign_history(
            self.name, [delivery.recipient], [delivery.campaign_id]
        )
        earlier = [row for row in history if row.id < delivery.id and row.status in PENDING]
        if not earlier:
            return None
        first = min(earlier, key=lambda row: row.id)
        now = datetime.now(UTC)
        due = first.next_attempt_at
        wait = ORDER_WAIT if due is None or due <= now else due - now + ORDER_WAIT
        return Deferred(f"waits for delivery {first.id} of the same campaign to {self.page}", wait)

    def describe(self) -> Mapping[str, object]:
        return masked(self.options)

"""Channel types, registered explicitly: `type:` in a channel file picks one of these."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from broadcaster.channels.base import (
    Channel,
    ChannelOptions,
    ChannelType,
    DeliveryRejected,
    Rendition,
    Resources,
    RetryLater,
)
from broadcaster.channels.email import EmailType
from broadcaster.channels.email_desk import DeskEmailChannel
from broadcaster.channels.email_subscribers import SubscriberEmailChannel
from broadcaster.channels.facebook import FacebookChannel
from broadcaster.channels.feed import FeedChannel
from broadcaster.channels.radio import RadioChannel
from broadcaster.channels.webhook import WebhookChannel
from broadcaster.channels.website import WebsiteChannel
from broadcaster.channels.zalo import ZaloChannel
from broadcaster.mail.notices import Postbox, Postboxes
from broadcaster.text.render import Templates

if TYPE_CHECKING:
    from broadcaster.fanpages.store import FanpageStore
    from broadcaster.outbox.views import OutboxViews
    from broadcaster.partners.store import PartnerStore
    from broadcaster.settings import Settings
    from broadcaster.site.public import PublicSite
    from broadcaster.subscribers.api import SubscriberStore, Tokens
    from broadcaster.workspace.models import Workspace

CHANNEL_TYPES: dict[str, ChannelType] = {
    WebsiteChannel.type: WebsiteChannel,
    FeedChannel.type: FeedChannel,
    EmailType.type: EmailType(subscribers=SubscriberEmailChannel, desk=DeskEmailChannel),
    WebhookChannel.type: WebhookChannel,
    FacebookChannel.type: FacebookChannel,
    ZaloChannel.type: ZaloChannel,
    RadioChannel.type: RadioChannel,
}


def build_channels(
    workspace: Workspace,
    settings: Settings,
    public: PublicSite | None = None,
    *,
    subscribers: SubscriberStore | None = None,
    tokens: Tokens | None = None,
    partners: PartnerStore | None = None,
    fanpages: FanpageStore | None = None,
    history: OutboxViews | None = None,
) -> dict[str, Channel]:
    """Every configured channel, built from its validated options."""
    templates = Templates(workspace.root / "templates")
    resources = Resources(
        templates, settings, public, subscribers, tokens, partners, fanpages, history
    )
    return {
        name: CHANNEL_TYPES[config.type].from_config(name, config.options, resources)
        for name, config in workspace.channels.items()
    }


def postboxes(channels: Mapping[str, Channel]) -> Postboxes:
    """Where one-off mail goes out: confirmations through the first subscriber list (by
    name), staff notices through the first press desk, else the first subscriber list."""
    lists = [c for c in channels.values() if isinstance(c, SubscriberEmailChannel)]
    desks = [c for c in channels.values() if isinstance(c, DeskEmailChannel)]
    by_name = sorted(lists, key=lambda c: c.name)
    confirmations = Postbox(by_name[0].outbound, by_name[0].templates) if by_name else None
    senders: list[DeskEmailChannel | SubscriberEmailChannel] = [*desks, *lists]
    staff = senders[0] if senders else None
    return Postboxes(
        confirmations=confirmations,
        staff=Postbox(staff.outbound, staff.templates) if staff is not None else None,
    )


__all__ = [
    "CHANNEL_TYPES",
    "Channel",
    "ChannelOptions",
    "DeliveryRejected",
    "Rendition",
    "Resources",
    "RetryLater",
    "build_channels",
    "postboxes",
]

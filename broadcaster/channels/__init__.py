"""Channel types, registered explicitly: `type:` in a channel file picks one of these."""

from __future__ import annotations

from typing import TYPE_CHECKING

from broadcaster.channels.base import (
    Channel,
    ChannelOptions,
    DeliveryRejected,
    Rendition,
    Resources,
    RetryLater,
)
from broadcaster.channels.email import EmailChannel
from broadcaster.channels.feed import FeedChannel
from broadcaster.channels.webhook import WebhookChannel
from broadcaster.channels.website import WebsiteChannel
from broadcaster.text.render import Templates

if TYPE_CHECKING:
    from broadcaster.partners.store import PartnerStore
    from broadcaster.settings import Settings
    from broadcaster.site.public import PublicSite
    from broadcaster.subscribers.api import SubscriberStore, Tokens
    from broadcaster.workspace.models import Workspace

CHANNEL_TYPES: dict[str, type[Channel]] = {
    WebsiteChannel.type: WebsiteChannel,
    FeedChannel.type: FeedChannel,
    EmailChannel.type: EmailChannel,
    WebhookChannel.type: WebhookChannel,
}


def build_channels(
    workspace: Workspace,
    settings: Settings,
    public: PublicSite | None = None,
    *,
    subscribers: SubscriberStore | None = None,
    tokens: Tokens | None = None,
    partners: PartnerStore | None = None,
) -> dict[str, Channel]:
    """Every configured channel, built from its validated options."""
    templates = Templates(workspace.root / "templates")
    resources = Resources(templates, settings, public, subscribers, tokens, partners)
    return {
        name: CHANNEL_TYPES[config.type].from_config(name, config.options, resources)
        for name, config in workspace.channels.items()
    }


__all__ = [
    "CHANNEL_TYPES",
    "Channel",
    "ChannelOptions",
    "DeliveryRejected",
    "Rendition",
    "Resources",
    "RetryLater",
    "build_channels",
]

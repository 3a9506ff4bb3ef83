"""Channel types, registered explicitly: `type:` in a channel file picks one of these."""

from __future__ import annotations

from .base import Channel, ChannelOptions, DeliveryRejected, Rendition, Resources, RetryLater
from .email import EmailChannel
from .feed import FeedChannel
from .webhook import WebhookChannel
from .website import WebsiteChannel

CHANNEL_TYPES: dict[str, type[Channel]] = {
    WebsiteChannel.type: WebsiteChannel,
    FeedChannel.type: FeedChannel,
    EmailChannel.type: EmailChannel,
    WebhookChannel.type: WebhookChannel,
}

__all__ = [
    "CHANNEL_TYPES",
    "Channel",
    "ChannelOptions",
    "DeliveryRejected",
    "Rendition",
    "Resources",
    "RetryLater",
]

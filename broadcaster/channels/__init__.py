"""Channel types, registered explicitly: `type:` in a channel file picks one of these."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..render import Templates
from .base import Channel, ChannelOptions, DeliveryRejected, Rendition, Resources, RetryLater
from .email import EmailChannel
from .feed import FeedChannel
from .webhook import WebhookChannel
from .website import WebsiteChannel

if TYPE_CHECKING:
    from ..models import Workspace
    from ..partners.store import PartnerStore
    from ..public import PublicSite
    from ..settings import Settings
    from ..subscribers.api import SubscriberStore, Tokens

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

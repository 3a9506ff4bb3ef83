"""What every channel type provides (options, rendering, delivery) and what some add."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, Self, runtime_checkable

from pydantic import BaseModel

# Outcomes, renditions and jobs live with the outbox, which stores and hands them over;
# the channels and the engines behind them import them from there.
from broadcaster.outbox.jobs import BatchDeliveringChannel as BatchDeliveringChannel
from broadcaster.outbox.jobs import Collected as Collected
from broadcaster.outbox.jobs import Deliverer
from broadcaster.outbox.jobs import DeliveryJob as DeliveryJob
from broadcaster.outbox.jobs import Progress as Progress
from broadcaster.outbox.jobs import Rendition as Rendition
from broadcaster.outbox.jobs import deliver_one as deliver_one
from broadcaster.outbox.outcomes import Deferred as Deferred
from broadcaster.outbox.outcomes import DeliveryRejected as DeliveryRejected
from broadcaster.outbox.outcomes import Outcome as Outcome
from broadcaster.outbox.outcomes import RetryLater as RetryLater
from broadcaster.outbox.outcomes import Withdrawn as Withdrawn
from broadcaster.workspace.options import ChannelOptions as ChannelOptions
from broadcaster.workspace.options import FileProblem as FileProblem

if TYPE_CHECKING:
    from broadcaster.fanpages.store import FanpageStore
    from broadcaster.outbox.retry import RetryPolicy
    from broadcaster.outbox.views import OutboxViews
    from broadcaster.partners.store import PartnerStore
    from broadcaster.settings import Settings
    from broadcaster.site.public import PublicSite
    from broadcaster.subscribers.api import SubscriberStore, Tokens
    from broadcaster.text.render import Publication, Templates


@dataclass(frozen=True)
class Resources:
    """What a channel may use: templates, settings and (in the service) the public site,
    the subscriber list and the token signer (email to subscribers), the partner registry,
    the fan-page posts and alerts, and the outbox's history (who had a campaign:
    corrections and withdrawals by email)."""

    templates: Templates
    settings: Settings
    public: PublicSite | None = None
    subscribers: SubscriberStore | None = None
    tokens: Tokens | None = None
    partners: PartnerStore | None = None
    fanpages: FanpageStore | None = None
    history: OutboxViews | None = None


class Channel(Deliverer, Protocol):
    """A channel type: built from `channels/<name>.yaml`; renders publications, delivers
    (`deliver`, from the outbox's `Deliverer`)."""

    Options: ClassVar[type[ChannelOptions]]
    type: ClassVar[str]
    name: str

    @classmethod
    def from_config(cls, name: str, options: Any, resources: Resources) -> Self: ...

    def render(self, publication: Publication, locale: str) -> Rendition: ...

    def recipients(self, publication: Publication) -> AsyncIterator[list[tuple[str, str]]]:
        """(recipient, locale) of each delivery a publication makes here, in batches."""
        ...

    def describe(self) -> Mapping[str, object]:
        """The channel's configuration with secrets masked, for logs and the admin UI."""
        ...

    async def start(self, stack: AsyncExitStack) -> None:
        """Open long-lived resources (SMTP pool, HTTP session), closed with `stack`."""
        ...


class ChannelType(Protocol):
    """What the registry holds per `type:`: the options model and how to build a channel.

    A channel class is one; so is a type that builds a different class per option
    (email: one per `audience:`)."""

    @property
    def Options(self) -> type[ChannelOptions]: ...

    @property
    def type(self) -> str: ...

    def from_config(self, name: str, options: Any, resources: Resources) -> Channel: ...


# Capabilities some channels have besides `Channel`; call sites check for them with
# isinstance, so a new channel type gains one by having the methods.


@runtime_checkable
class RetryingChannel(Protocol):
    """A channel with its own retry schedule (webhooks), instead of the outbox's backoff."""

    name: str

    def retry_policy(self) -> RetryPolicy:
        """When a temporary failure on this channel is tried again."""
        ...


@runtime_checkable
class PublicChannel(Protocol):
    """A channel whose delivery rebuilds part of the public site (website, feeds)."""

    name: str
    # Rebuilt in this order when queued together: the pages, then the feeds.
    rebuild_order: ClassVar[int]

    def rebuild(self) -> Awaitable[str]:
        """Rebuild this part of the site from the store and swap it in; a receipt."""
        ...


@runtime_checkable
class ListMailChannel(Protocol):
    """Mail to the subscriber list: bounces come back to VERP addresses at `bounce_domain`."""

    name: str

    @property
    def bounce_domain(self) -> str: ...


@runtime_checkable
class WithdrawingChannel(Protocol):
    """A channel that tells its recipients when a campaign is withdrawn (webhooks, email),
    or takes it down where it posted it (fan pages)."""

    name: str

    async def withdrawal_recipients(
        self, campaign_id: str, before: int | None = None
    ) -> list[tuple[str, str]]:
        """(recipient, locale) of everyone that was sent, or has queued, the campaign (in
        publications older than `before`, when given)."""
        ...

    def render_withdrawal(self, publication: Publication, locale: str, at: datetime) -> Rendition:
        """What tells them that `publication`'s campaign was withdrawn at `at`."""
        ...


def masked(options: BaseModel) -> dict[str, object]:
    """Options as a dict, with every secret field replaced by '***' when set."""
    result: dict[str, object] = {}
    for name, info in type(options).model_fields.items():
        value = getattr(options, name)
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        if extra.get("secret"):
            result[name] = "***" if value else ""
        elif isinstance(value, BaseModel):
            result[name] = masked(value)
        else:
            result[name] = value
    return result

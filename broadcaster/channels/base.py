"""What every channel type provides: options, rendering, and (later) delivery."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, Self, runtime_checkable

from pydantic import BaseModel

# Outcomes, renditions and jobs live with the outbox, which stores and hands them over;
# the channels and the engines behind them import them from there.
from broadcaster.outbox.jobs import DeliveryJob as DeliveryJob
from broadcaster.outbox.jobs import Rendition as Rendition
from broadcaster.outbox.outcomes import Deferred as Deferred
from broadcaster.outbox.outcomes import DeliveryRejected as DeliveryRejected
from broadcaster.outbox.outcomes import Outcome as Outcome
from broadcaster.outbox.outcomes import RetryLater as RetryLater
from broadcaster.outbox.outcomes import Withdrawn as Withdrawn
from broadcaster.workspace.options import ChannelOptions as ChannelOptions
from broadcaster.workspace.options import FileProblem as FileProblem

if TYPE_CHECKING:
    from broadcaster.partners.store import PartnerStore
    from broadcaster.settings import Settings
    from broadcaster.site.public import PublicSite
    from broadcaster.subscribers.api import SubscriberStore, Tokens
    from broadcaster.text.render import Publication, Templates


@dataclass(frozen=True)
class Resources:
    """What a channel may use: templates, settings and (in the service) the public site,
    the subscriber list and the token signer (email to subscribers), the partner registry."""

    templates: Templates
    settings: Settings
    public: PublicSite | None = None
    subscribers: SubscriberStore | None = None
    tokens: Tokens | None = None
    partners: PartnerStore | None = None


class Channel(Protocol):
    """A channel type: built from `channels/<name>.yaml`, renders publications."""

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


class DeliveringChannel(Channel, Protocol):
    """A channel that also sends: long-lived resources opened in `start`."""

    async def start(self, stack: AsyncExitStack) -> None: ...

    async def deliver(self, job: DeliveryJob) -> str:
        """Send one delivery; return a receipt, or raise RetryLater / DeliveryRejected."""
        ...


class BatchDeliveringChannel(DeliveringChannel, Protocol):
    """A channel that sends many deliveries at once (email fan-out)."""

    async def deliver_many(self, jobs: Sequence[DeliveryJob]) -> list[Outcome]:
        """One outcome per job, in order; never raises for a single job's failure."""
        ...

    def batch_limit(self, lease: timedelta) -> int:
        """The most deliveries one batch should hold so it finishes well within `lease`."""
        ...


@runtime_checkable
class WithdrawingChannel(Protocol):
    """A channel that tells its recipients when a campaign is withdrawn (webhooks)."""

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

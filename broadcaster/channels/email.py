"""The email channel type: `audience:` picks list mail to subscribers or the press desk.

The options are one model for both (the `audience:` key and what each needs); the
channels themselves are `email_subscribers.py` and `email_desk.py`. What they share is
the mail engine (`broadcaster.mail`: transport, DKIM, message bodies), reached through
`EmailDelivery` below; confirmation and staff mail are `broadcaster.mail.notices`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import AsyncExitStack
from datetime import timedelta
from email.utils import parseaddr
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from broadcaster.channels.base import (
    Channel,
    ChannelOptions,
    DeliveryJob,
    FileProblem,
    Progress,
    Resources,
    masked,
)
from broadcaster.mail.dkim import key_file_problem
from broadcaster.mail.outbound import DkimOptions, Outbound
from broadcaster.mail.smtp import SmtpOptions
from broadcaster.outbox.tables import DeliveryStatus, PublicationKind
from broadcaster.outbox.views import OutboxViews
from broadcaster.workspace.schema import Line

# A channel class an audience is sent by (a name outside the class: its `type` hides the
# builtin there).
AudienceClass = type[Channel]


def _address(value: str) -> str:
    _, addr = parseaddr(value)
    if not addr or "@" not in addr or not addr.rsplit("@", 1)[1]:
        raise ValueError(f"{value!r} is not an email address like 'Name <user@example.gov.vn>'")
    return value


class EmailOptions(ChannelOptions):
    type: Literal["email"]
    audience: Literal["subscribers", "desk"]
    # Each of these becomes a mail header: one line only.
    from_: Line = Field(alias="from")
    list_id: Line | None = None
    reply_to: Line | None = None
    recipients: list[Line] = Field(default_factory=list)
    transport: Literal["maildir", "smtp"] = "maildir"
    maildir: str = "var/mail"
    smtp: SmtpOptions = Field(default_factory=SmtpOptions)
    connections: int = Field(default=4, ge=1, le=100)
    rate_per_second: float = Field(default=0, ge=0)
    dkim: DkimOptions | None = None
    attach_radio_script: bool = False

    @field_validator("from_", "reply_to")
    @classmethod
    def _sender(cls, value: str | None) -> str | None:
        return value if value is None else _address(value)

    @field_validator("recipients")
    @classmethod
    def _recipients(cls, values: list[str]) -> list[str]:
        return [_address(v) for v in values]

    @model_validator(mode="after")
    def _audience(self) -> EmailOptions:
        if self.audience == "desk" and not self.recipients:
            raise ValueError("a desk channel needs recipients: (the newsroom addresses)")
        if self.audience == "subscribers" and self.recipients:
            raise ValueError(
                "recipients: is only for audience: desk; subscribers sign up on the site"
            )
        if self.audience == "subscribers" and not self.list_id:
            raise ValueError("list_id: is required for mail to subscribers (RFC 2919 List-Id)")
        return self

    def accepts_digest(self) -> bool:
        return self.audience == "subscribers"

    def file_problems(self, root: Path) -> Iterator[FileProblem]:
        """The DKIM key must load (RSA of 1024 bits or more, 2048 advised, or Ed25519);
        a CA file must exist."""
        if self.dkim is not None:
            problem = key_file_problem(root / self.dkim.key_file, self.dkim.key_file)
            if problem is not None:
                message, warning = problem
                yield FileProblem(("dkim", "key_file"), message, warning)
        ca_file = self.smtp.ca_file
        if self.transport == "smtp" and ca_file and not (root / ca_file).is_file():
            yield FileProblem(
                ("smtp", "ca_file"),
                f"smtp.ca_file {ca_file!r}: no such file ({root / ca_file}); "
                "name the PEM file of the CA that signed the relay's certificate",
            )

    @property
    def domain(self) -> str:
        return parseaddr(self.from_)[1].rsplit("@", 1)[1]


class EmailType:
    """`type: email` in the registry: one options model; `audience:` picks the class."""

    Options: ClassVar[type[ChannelOptions]] = EmailOptions
    type: ClassVar[str] = "email"

    def __init__(self, **audiences: AudienceClass) -> None:
        self.audiences = audiences

    def from_config(self, name: str, options: Any, resources: Resources) -> Channel:
        """The channel for the options' `audience:`."""
        return self.audiences[options.audience].from_config(name, options, resources)


class EmailDelivery:
    """What both email channels do alike: deliver through their `Outbound` (mail engine),
    and find who was sent a campaign (for its corrections and its withdrawal)."""

    name: str
    options: EmailOptions
    outbound: Outbound
    history: OutboxViews | None

    async def withdrawal_recipients(
        self, campaign_id: str, before: int | None = None
    ) -> list[tuple[str, str]]:
        """(recipient, locale) of everyone this channel sent the campaign to since it was
        last withdrawn (in publications older than `before`, when given): once each, in the
        locale of the last message they got. Messages never sent are cancelled, not told."""
        if self.history is None:
            return []
        rows = await self.history.campaign_deliveries(self.name, campaign_id, before)
        told: dict[str, str] = {}
        for row in rows:
            if row.kind == PublicationKind.WITHDRAWAL:
                told.pop(row.recipient, None)  # told of the withdrawal: starts over
            elif row.status == DeliveryStatus.DELIVERED:
                told.pop(row.recipient, None)  # latest locale last
                told[row.recipient] = row.locale
        return list(told.items())

    async def start(self, stack: AsyncExitStack) -> None:
        """Open the transport (SMTP connections open on first use) and close it on exit."""
        stack.push_async_callback(self.close)
        self.outbound.open()

    async def close(self) -> None:
        """Close the SMTP connections and the signing processes."""
        await self.outbound.close()

    def batch_limit(self, lease: timedelta) -> int:
        """Deliveries per batch: what the send rate gets through in half a lease."""
        return self.outbound.batch_limit(lease)

    async def deliver_many(self, jobs: Sequence[DeliveryJob], progress: Progress) -> None:
        """Check, personalise or readdress, sign and send a batch, reporting as it goes."""
        await self.outbound.deliver_many(jobs, progress)

    async def deliver(self, job: DeliveryJob) -> str:
        """Send one delivery; a receipt, or RetryLater / DeliveryRejected."""
        return await self.outbound.deliver(job)

    def describe(self) -> Mapping[str, object]:
        return masked(self.options)

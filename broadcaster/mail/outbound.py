"""One email channel's way out: its transport (Maildir or an SMTP pool) and DKIM signer.

Both email channels (the subscriber list and the press desk) and the one-off mail
(confirmations, staff notices) send through an `Outbound`, built from the channel's
options and opened on first use.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import timedelta
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from pydantic import BaseModel, ConfigDict

from broadcaster.mail.dkim import DkimKey, DkimKeyError, DkimSigner
from broadcaster.mail.sender import MailSender, Transport
from broadcaster.mail.smtp import Outgoing, SmtpOptions, SmtpPool
from broadcaster.outbox.jobs import deliver_one
from broadcaster.outbox.outcomes import RetryLater

if TYPE_CHECKING:
    from broadcaster.outbox.jobs import DeliveryJob, Progress
    from broadcaster.subscribers.api import SubscriberStore, Tokens

log = logging.getLogger(__name__)

# A batch should take at most this share of the lease at the channel's send rate.
LEASE_SHARE = 0.5
MAX_BATCH = 1000


class DkimOptions(BaseModel):
    """`dkim:` in an email channel file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    domain: str
    selector: str
    key_file: str


class OutboundOptions(Protocol):
    """What an email channel's options say about how its mail goes out."""

    @property
    def from_(self) -> str: ...

    @property
    def reply_to(self) -> str | None: ...

    @property
    def list_id(self) -> str | None: ...

    @property
    def transport(self) -> str: ...

    @property
    def maildir(self) -> str: ...

    @property
    def smtp(self) -> SmtpOptions: ...

    @property
    def connections(self) -> int: ...

    @property
    def rate_per_second(self) -> float: ...

    @property
    def dkim(self) -> DkimOptions | None: ...

    @property
    def domain(self) -> str: ...


class Outbound:
    """A channel's MailSender, built on first use and closed with the channel."""

    def __init__(
        self,
        name: str,
        options: OutboundOptions,
        root: Path,
        secret: Callable[[], bytes],
        *,
        list_mail: bool,
        subscribers: SubscriberStore | None = None,
        tokens: Tokens | None = None,
    ) -> None:
        self.name = name
        self.options = options
        self.root = root  # the workspace: relative key and CA files are found from here
        self.secret = secret
        self.list_mail = list_mail
        self.subscribers = subscribers
        self.tokens = tokens
        self._sender: MailSender | None = None

    def sender(self) -> MailSender:
        """The sender, built now if need be; DkimKeyError when the DKIM key will not load."""
        if self._sender is None:
            options = self.options
            if options.transport == "smtp":
                smtp = options.smtp
                if smtp.ca_file:
                    ca_file = str(self.root / smtp.ca_file)  # absolute stays absolute
                    smtp = smtp.model_copy(update={"ca_file": ca_file})
                pool = SmtpPool(smtp, options.connections, options.rate_per_second)
                transport = Transport(pool=pool)
            else:
                transport = Transport(maildir=self.root / options.maildir)
            signer = None
            if options.dkim is not None:
                key = DkimKey.from_file(self.root / options.dkim.key_file)
                signer = DkimSigner(options.dkim.domain, options.dkim.selector, key)
            self._sender = MailSender(
                domain=options.domain,
                sender=parseaddr(options.from_)[1],
                list_mail=self.list_mail,
                transport=transport,
                signer=signer,
                subscribers=self.subscribers,
                tokens=self.tokens,
                secret=self.secret,
            )
        return self._sender

    def open(self) -> None:
        """Build the sender now (SMTP connections open on first use); a key that will not
        load is logged, and deliveries wait (RetryLater) until it is fixed and reloaded."""
        try:
            self.sender()
        except DkimKeyError as exc:
            log.error("channel %s: %s", self.name, exc)

    async def close(self) -> None:
        """Close the SMTP connections and the signing processes. The closed sender stays:
        a delivery still running on this channel after a reload replaced it is tried again
        later, instead of opening connections and processes nobody would close."""
        if self._sender is not None:
            await self._sender.close()

    def batch_limit(self, lease: timedelta) -> int:
        """Deliveries per batch: what the send rate gets through in half a lease."""
        rate = self.options.rate_per_second
        if rate <= 0:
            return MAX_BATCH
        return max(1, min(MAX_BATCH, int(rate * lease.total_seconds() * LEASE_SHARE)))

    async def deliver_many(self, jobs: Sequence[DeliveryJob], progress: Progress) -> None:
        """Check, personalise, sign and send a batch, reporting each outcome to `progress`."""
        try:
            sender = self.sender()
        except DkimKeyError as exc:
            for index in range(len(jobs)):
                progress.report(index, RetryLater(f"channel {self.name}: {exc}"))
            return
        await sender.deliver_many(jobs, progress)

    async def deliver(self, job: DeliveryJob) -> str:
        """Send one delivery; a receipt, or RetryLater / DeliveryRejected."""
        return await deliver_one(self, job)

    async def send_one(self, to: str, msg: EmailMessage) -> None:
        """Sign (when configured) and send one message outside the outbox."""
        message = msg.as_bytes()
        sender = self.sender()
        if sender.signer is not None:
            message = sender.signer.sign(message) + message
        await sender.send_one(Outgoing(parseaddr(self.options.from_)[1], to, message))

"""The email channel: list mail to subscribers, or press releases to a fixed desk list."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, getaddresses, make_msgid, parseaddr
from pathlib import Path
from typing import Any, ClassVar, Literal, Self

import css_inline
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from broadcaster.channels.base import (
    ChannelOptions,
    DeliveryJob,
    DeliveryRejected,
    FileProblem,
    Outcome,
    Rendition,
    Resources,
    RetryLater,
    Withdrawn,
    masked,
)
from broadcaster.mail.compose import (
    MESSAGE_ID_MARK,
    PREFERENCES_MARK,
    TO_MARK,
    UNSUBSCRIBE_MARK,
    list_message,
)
from broadcaster.mail.dkim import DkimKey, DkimKeyError, DkimSigner, key_file_problem
from broadcaster.mail.sender import MailSender, Transport
from broadcaster.mail.smtp import Outgoing, SmtpOptions, SmtpPool
from broadcaster.settings import Settings
from broadcaster.subscribers.api import SubscriberStore, Tokens
from broadcaster.text.radio_script import RadioScript, read_aloud
from broadcaster.text.render import Publication, Templates
from broadcaster.text.strings import text
from broadcaster.workspace.attachments import Attachment, campaign_files
from broadcaster.workspace.models import DEFAULT_LOCALE, Frequency

log = logging.getLogger(__name__)

PREVIEW_RECIPIENT = TO_MARK
# A batch should take at most this share of the lease at the channel's send rate.
LEASE_SHARE = 0.5
MAX_BATCH = 1000
# Subscribers read from the store per outbox insert: small enough that enqueueing a long
# list beside a running fan-out adds little to the peak memory.
RECIPIENT_BATCH = 1000


def _address(value: str) -> str:
    _, addr = parseaddr(value)
    if not addr or "@" not in addr or not addr.rsplit("@", 1)[1]:
        raise ValueError(f"{value!r} is not an email address like 'Name <user@example.gov.vn>'")
    return value


class DkimOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    domain: str
    selector: str
    key_file: str


class EmailOptions(ChannelOptions):
    type: Literal["email"]
    audience: Literal["subscribers", "desk"]
    from_: str = Field(alias="from")
    list_id: str | None = None
    reply_to: str | None = None
    recipients: list[str] = Field(default_factory=list)
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


class EmailChannel:
    """List mail to subscribers (pre-built, personalised per recipient) or desk mail."""

    Options: ClassVar[type[ChannelOptions]] = EmailOptions
    type: ClassVar[str] = "email"

    def __init__(
        self,
        name: str,
        options: EmailOptions,
        templates: Templates,
        settings: Settings,
        *,
        subscribers: SubscriberStore | None = None,
        tokens: Tokens | None = None,
    ):
        self.name = name
        self.options = options
        self.templates = templates
        self.settings = settings
        self.subscribers = subscribers
        self.tokens = tokens
        self._sender: MailSender | None = None

    @classmethod
    def from_config(cls, name: str, options: Any, resources: Resources) -> Self:
        return cls(
            name,
            options,
            resources.templates,
            resources.settings,
            subscribers=resources.subscribers,
            tokens=resources.tokens,
        )

    # -- rendering -----------------------------------------------------------------------

    def _links(self, publication: Publication) -> dict[str, str]:
        if self.options.audience != "subscribers":
            return {}
        base = publication.base_url
        return {
            "unsubscribe": f"{base}/unsubscribe/{UNSUBSCRIBE_MARK}",
            "preferences": f"{base}/preferences/{PREFERENCES_MARK}",
            "unsubscribe_mailto": (
                f"mailto:unsubscribe@{self.options.domain}?subject=unsubscribe%20{UNSUBSCRIBE_MARK}"
            ),
        }

    def _desk_extras(
        self, publication: Publication, locale: str
    ) -> tuple[list[Attachment], RadioScript | None]:
        """What a press release carries besides its text: the campaign's files, the script."""
        if self.options.audience != "desk":
            return [], None
        script = None
        if self.options.attach_radio_script:
            script = read_aloud(publication, locale, self.templates)
        return campaign_files(publication), script

    def _radio_name(self, publication: Publication, script: RadioScript) -> str:
        return f"radio-{publication.campaign.id}-{script.locale}.txt"

    def _bodies(self, publication: Publication, locale: str) -> tuple[str, str, str]:
        """(subject, plain text, HTML with CSS inlined) for `locale`."""
        content, campaign = publication.content(locale), publication.campaign
        files, script = self._desk_extras(publication, locale)
        desk = None
        if self.options.audience == "desk":
            radio = None
            if script is not None:
                radio = {"name": self._radio_name(publication, script), "duration": script.duration}
            desk = {"files": files, "radio": radio}
        context = {
            "publication": publication,
            "content": content,
            "locale": locale,
            "links": self._links(publication),
            "audience": self.options.audience,
            "desk": desk,
        }
        html = css_inline.inline(self.templates.render("email/message.html", **context))
        plain = self.templates.render("email/message.txt", **context)
        subject = content.title
        if campaign.priority == "urgent":
            subject = f"{text('urgent_subject', locale)} {subject}"
        return subject, plain, html

    def list_template(self, publication: Publication, locale: str) -> bytes:
        """The list message with placeholders for each subscriber's address, tokens and id."""
        options = self.options
        subject, plain, html = self._bodies(publication, locale)
        headers = [("From", options.from_), ("Subject", subject)]
        headers.append(("Date", format_datetime(publication.published_at)))
        if options.reply_to:
            headers.append(("Reply-To", options.reply_to))
        if options.list_id:
            headers.append(("List-Id", options.list_id))
        links = self._links(publication)
        return list_message(
            static_headers=headers,
            unsubscribe_url=links["unsubscribe"],
            unsubscribe_mailto=links["unsubscribe_mailto"],
            language=publication.content(locale).locale,
            text=plain,
            html=html,
        )

    def build(self, publication: Publication, locale: str, recipients: list[str]) -> EmailMessage:
        """The desk message, addressed to the whole desk list (each copy is readdressed)."""
        options, content = self.options, publication.content(locale)
        subject, plain, html = self._bodies(publication, locale)
        msg = EmailMessage(policy=SMTP)
        msg["From"] = options.from_
        msg["To"] = [Address(name, addr_spec=addr) for name, addr in getaddresses(recipients)]
        if options.reply_to:
            msg["Reply-To"] = options.reply_to
        msg["Subject"] = subject
        msg["Date"] = format_datetime(publication.published_at)
        msg["Message-ID"] = f"<{MESSAGE_ID_MARK}@{options.domain}>"
        if options.list_id:
            msg["List-Id"] = options.list_id
        msg.set_content(plain, subtype="plain", charset="utf-8", cte="quoted-printable")
        msg.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
        files, script = self._desk_extras(publication, locale)
        for file in files:
            maintype, subtype = file.media_type.split("/", 1)
            msg.add_attachment(file.data, maintype=maintype, subtype=subtype, filename=file.name)
        if script is not None:
            msg.add_attachment(
                script.text,
                subtype="plain",
                charset="utf-8",
                filename=self._radio_name(publication, script),
            )
        # set_content() drops Content-* headers, so the language is declared last.
        msg["Content-Language"] = content.locale
        return msg

    def render(self, publication: Publication, locale: str) -> Rendition:
        """The message as it would go out (list mail: with placeholder address and links)."""
        if self.options.audience == "subscribers":
            data = self.list_template(publication, locale)
            subject = self._bodies(publication, locale)[0]
            who = "each subscriber"
        else:
            recipients = list(self.options.recipients)
            msg = self.build(publication, locale, recipients)
            data, subject = msg.as_bytes(), str(msg["Subject"])
            attached = [
                f"{part.get_filename()} ({part.get_content_type()})"
                for part in msg.iter_attachments()
            ]
            who = f"{len(recipients)} desk address(es)"
            if attached:
                subject += f"; attached: {', '.join(attached)}"
        return Rendition(
            channel=self.name,
            locale=locale,
            media_type="message/rfc822",
            body=data,
            summary=f"email to {who}: {subject} ({len(data)} bytes)",
            files={"email.eml": data},
        )

    async def recipients(self, publication: Publication) -> AsyncIterator[list[tuple[str, str]]]:
        """Desk addresses; or subscribers of the campaign's topics who chose `immediate`."""
        if self.options.audience == "desk":
            yield [(address, DEFAULT_LOCALE) for address in self.options.recipients]
            return
        if self.subscribers is None:
            log.warning("channel %s: no subscriber store; nobody to send to", self.name)
            return
        # A reader whose language the campaign lacks gets the default locale's rendition
        # for their locale, which says so in one line; renditions exist for each.
        locales = set(publication.workspace.locales)
        topics = publication.campaign.topics
        batches = self.subscribers.recipients(topics, Frequency.IMMEDIATE, RECIPIENT_BATCH)
        async for batch in batches:
            yield [(str(r.id), r.locale if r.locale in locales else DEFAULT_LOCALE) for r in batch]

    # -- delivering ----------------------------------------------------------------------

    def _mail(self) -> MailSender:
        if self._sender is None:
            options = self.options
            if options.transport == "smtp":
                smtp = options.smtp
                if smtp.ca_file:
                    ca_file = str(self.settings.root / smtp.ca_file)  # absolute stays absolute
                    smtp = smtp.model_copy(update={"ca_file": ca_file})
                pool = SmtpPool(smtp, options.connections, options.rate_per_second)
                transport = Transport(pool=pool)
            else:
                transport = Transport(maildir=self.settings.root / options.maildir)
            signer = None
            if options.dkim is not None:
                key_file = self.settings.root / options.dkim.key_file
                key = DkimKey.from_file(key_file)
                signer = DkimSigner(options.dkim.domain, options.dkim.selector, key)
            self._sender = MailSender(
                domain=options.domain,
                sender=parseaddr(options.from_)[1],
                list_mail=options.audience == "subscribers",
                transport=transport,
                signer=signer,
                subscribers=self.subscribers,
                tokens=self.tokens,
                secret=lambda: self.settings.secret_key,
            )
        return self._sender

    async def start(self, stack: AsyncExitStack) -> None:
        """Open the transport (SMTP connections open on first use) and close it on exit."""
        stack.push_async_callback(self.close)
        try:
            self._mail()
        except DkimKeyError as exc:
            # Deliveries wait (RetryLater) until the key is fixed and the workspace reloaded.
            log.error("channel %s: %s", self.name, exc)

    async def close(self) -> None:
        """Close the SMTP connections and the signing thread."""
        if self._sender is not None:
            sender, self._sender = self._sender, None
            await sender.close()

    def batch_limit(self, lease: timedelta) -> int:
        """Deliveries per batch: what the send rate gets through in half a lease."""
        rate = self.options.rate_per_second
        if rate <= 0:
            return MAX_BATCH
        return max(1, min(MAX_BATCH, int(rate * lease.total_seconds() * LEASE_SHARE)))

    async def deliver_many(self, jobs: Sequence[DeliveryJob]) -> list[Outcome]:
        """Check, personalise, sign and send a batch; one outcome per job."""
        try:
            mail = self._mail()
        except DkimKeyError as exc:
            return [RetryLater(f"channel {self.name}: {exc}") for _ in jobs]
        return await mail.deliver_many(jobs)

    async def deliver(self, job: DeliveryJob) -> str:
        """Send one delivery; a receipt, or RetryLater / DeliveryRejected."""
        (outcome,) = await self.deliver_many([job])
        if isinstance(outcome, Withdrawn):
            raise DeliveryRejected(str(outcome))
        if isinstance(outcome, RetryLater | DeliveryRejected):
            raise outcome
        return outcome

    async def send_confirmation(
        self, subscriber_id: int, email: str, locale: str, confirm_url: str
    ) -> None:
        """The double opt-in email (the web routes' ConfirmationMailer)."""
        options = self.options
        context = {"locale": locale, "confirm_url": confirm_url, "list_id": options.list_id}
        msg = EmailMessage(policy=SMTP)
        msg["From"] = options.from_
        msg["To"] = email
        msg["Subject"] = self.templates.render("email/confirm_subject.txt", **context).strip()
        msg["Date"] = format_datetime(datetime.now(UTC))
        msg["Message-ID"] = make_msgid(domain=options.domain)
        msg["Auto-Submitted"] = "auto-generated"
        msg.set_content(self.templates.render("email/confirm.txt", **context), cte="8bit")
        msg["Content-Language"] = locale
        await self._send_one(email, msg)

    async def send_notice(self, to: str, subject: str, text: str) -> None:
        """A plain-text message to staff (a publication held for approval)."""
        msg = EmailMessage(policy=SMTP)
        msg["From"] = self.options.from_
        msg["To"] = to
        msg["Subject"] = subject
        msg["Date"] = format_datetime(datetime.now(UTC))
        msg["Message-ID"] = make_msgid(domain=self.options.domain)
        msg["Auto-Submitted"] = "auto-generated"
        msg.set_content(text, cte="8bit")
        await self._send_one(to, msg)

    async def _send_one(self, to: str, msg: EmailMessage) -> None:
        message = msg.as_bytes()
        mail = self._mail()
        if mail.signer is not None:
            message = mail.signer.sign(message) + message
        sender = parseaddr(self.options.from_)[1]
        await mail.send_one(Outgoing(sender, to, message))

    def describe(self) -> Mapping[str, object]:
        return masked(self.options)

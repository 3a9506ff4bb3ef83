"""The email channel: list mail to subscribers, or press releases to a fixed desk list."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, getaddresses, parseaddr
from typing import Any, ClassVar, Literal, Self

import css_inline
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..models import DEFAULT_LOCALE
from ..render import Publication, Templates
from ..settings import Settings
from ..strings import text
from .base import ChannelOptions, DeliveryJob, Rendition, Resources, masked
from .mailer import SmtpOptions, readdress, to_maildir, to_smtp
from .radio_script import radio_script

PREVIEW_RECIPIENT = "nguoi-nhan@example.gov.vn"
PREVIEW_TOKEN = "PREVIEW-TOKEN"  # noqa: S105 - a placeholder shown in previews


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

    @property
    def domain(self) -> str:
        return parseaddr(self.from_)[1].rsplit("@", 1)[1]


class EmailChannel:
    """Renders complete messages: multipart/alternative text + inlined-CSS HTML."""

    Options: ClassVar[type[ChannelOptions]] = EmailOptions
    type: ClassVar[str] = "email"

    def __init__(self, name: str, options: EmailOptions, templates: Templates, settings: Settings):
        self.name = name
        self.options = options
        self.templates = templates
        self.settings = settings

    @classmethod
    def from_config(cls, name: str, options: Any, resources: Resources) -> Self:
        return cls(name, options, resources.templates, resources.settings)

    def _links(self, publication: Publication) -> dict[str, str]:
        if self.options.audience != "subscribers":
            return {}
        base = publication.base_url
        return {
            "unsubscribe": f"{base}/unsubscribe/{PREVIEW_TOKEN}",
            "preferences": f"{base}/preferences/{PREVIEW_TOKEN}",
            "unsubscribe_mailto": (
                f"mailto:unsubscribe@{self.options.domain}?subject=unsubscribe%20{PREVIEW_TOKEN}"
            ),
        }

    def build(self, publication: Publication, locale: str, recipients: list[str]) -> EmailMessage:
        """The message for `recipients` (list mail: one subscriber; desk: the whole list)."""
        options, content, campaign = self.options, publication.content(locale), publication.campaign
        links = self._links(publication)
        context = {
            "publication": publication,
            "content": content,
            "locale": locale,
            "links": links,
            "audience": options.audience,
        }
        html = css_inline.inline(self.templates.render("email/message.html", **context))
        plain = self.templates.render("email/message.txt", **context)
        subject = content.title
        if campaign.priority == "urgent":
            subject = f"{text('urgent_subject', locale)} {subject}"
        msg = EmailMessage(policy=SMTP)
        msg["From"] = options.from_
        msg["To"] = [Address(name, addr_spec=addr) for name, addr in getaddresses(recipients)]
        if options.reply_to:
            msg["Reply-To"] = options.reply_to
        msg["Subject"] = subject
        msg["Date"] = format_datetime(publication.published_at)
        msg["Message-ID"] = (
            f"<{campaign.id}.{campaign.revision[:12]}.{content.locale}.{self.name}@{options.domain}>"
        )
        if options.list_id:
            msg["List-Id"] = options.list_id
        if links:
            msg["List-Unsubscribe"] = f"<{links['unsubscribe']}>, <{links['unsubscribe_mailto']}>"
            msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        msg.set_content(plain, subtype="plain", charset="utf-8", cte="quoted-printable")
        msg.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
        if options.attach_radio_script:
            script = radio_script(publication, locale, self.templates)
            msg.add_attachment(
                script, subtype="plain", filename=f"radio-{campaign.id}-{content.locale}.txt"
            )
        # set_content() drops Content-* headers, so the language is declared last.
        msg["Content-Language"] = content.locale
        return msg

    async def recipients(self, publication: Publication) -> AsyncIterator[list[tuple[str, str]]]:
        """Who gets this publication: each desk address (subscribers come from the store)."""
        if self.options.audience == "desk":
            yield [(address, DEFAULT_LOCALE) for address in self.options.recipients]

    async def deliver(self, job: DeliveryJob) -> str:
        """Address the pre-built message to one recipient and hand it to the transport."""
        delivery = job.delivery
        message_id = f"{delivery.dedup_key}@{self.options.domain}"
        message = readdress(await job.rendition(), delivery.recipient, message_id)
        options = self.options
        if options.transport == "maildir":
            return await to_maildir(self.settings.root / options.maildir, message)
        return await to_smtp(message, options.from_, delivery.recipient, options.smtp)

    def render(self, publication: Publication, locale: str) -> Rendition:
        """The message as it would go out (list mail: with placeholder address and links)."""
        if self.options.audience == "subscribers":
            recipients = [PREVIEW_RECIPIENT]
        else:
            recipients = list(self.options.recipients)
        msg = self.build(publication, locale, recipients)
        data = msg.as_bytes()
        who = (
            "each subscriber"
            if self.options.audience == "subscribers"
            else f"{len(recipients)} desk address(es)"
        )
        return Rendition(
            channel=self.name,
            locale=locale,
            media_type="message/rfc822",
            body=data,
            summary=f"email to {who}: {msg['Subject']} ({len(data)} bytes)",
            files={"email.eml": data},
        )

    def describe(self) -> Mapping[str, object]:
        return masked(self.options)

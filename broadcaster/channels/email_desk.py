"""Email to the press desk (`audience: desk`): a press release to a fixed list of newsrooms.

The release carries the campaign's files and, when asked, the radio script; it is built
once, addressed to the whole list, and readdressed per newsroom by the mail engine.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses
from typing import Any, ClassVar, Self

from broadcaster.bulletins.names import bulletin_links
from broadcaster.channels.base import (
    ChannelOptions,
    Rendition,
    Resources,
)
from broadcaster.channels.email import EmailDelivery, EmailOptions
from broadcaster.mail.bodies import bodies
from broadcaster.mail.compose import MESSAGE_ID_MARK
from broadcaster.mail.headers import MAIL
from broadcaster.mail.outbound import Outbound
from broadcaster.outbox.views import OutboxViews
from broadcaster.settings import Settings
from broadcaster.text.radio_script import RadioScript, read_aloud
from broadcaster.text.render import Publication, Templates
from broadcaster.workspace.attachments import Attachment, campaign_files
from broadcaster.workspace.models import DEFAULT_LOCALE


class DeskEmailChannel(EmailDelivery):
    """Press releases to the desk's `recipients:`, with the campaign's files attached."""

    Options: ClassVar[type[ChannelOptions]] = EmailOptions
    type: ClassVar[str] = "email"

    def __init__(
        self,
        name: str,
        options: EmailOptions,
        templates: Templates,
        settings: Settings,
        history: OutboxViews | None = None,
    ) -> None:
        self.name = name
        self.history = history
        self.options = options
        self.templates = templates
        self.outbound = Outbound(
            name, options, settings.root, lambda: settings.secret_key, list_mail=False
        )

    @classmethod
    def from_config(cls, name: str, options: Any, resources: Resources) -> Self:
        return cls(name, options, resources.templates, resources.settings, resources.history)

    def _extras(
        self, publication: Publication, locale: str
    ) -> tuple[list[Attachment], RadioScript | None]:
        """What a press release carries besides its text: the campaign's files, the script."""
        script = None
        if self.options.attach_radio_script:
            script = read_aloud(publication, locale, self.templates)
        return campaign_files(publication), script

    def _radio_name(self, publication: Publication, script: RadioScript) -> str:
        return f"radio-{publication.campaign.id}-{script.locale}.txt"

    def build(
        self,
        publication: Publication,
        locale: str,
        recipients: list[str],
        at: datetime | None = None,
    ) -> EmailMessage:
        """The desk message, addressed to the whole desk list (each copy is readdressed);
        for a withdrawal, the short notice (at `at`) without the files."""
        options, content = self.options, publication.content(locale)
        files, script = self._extras(publication, locale)
        if publication.is_withdrawal:
            files, script = [], None
        radio = None
        if script is not None:
            radio = {"name": self._radio_name(publication, script), "duration": script.duration}
        desk = {"files": files, "radio": radio, "audio": bulletin_links(publication, locale)}
        subject, plain, html = bodies(
            self.templates,
            publication,
            locale,
            audience="desk",
            links={},
            desk=desk,
            withdrawn_at=at,
        )
        msg = EmailMessage(policy=MAIL)
        msg["From"] = options.from_
        msg["To"] = [Address(name, addr_spec=addr) for name, addr in getaddresses(recipients)]
        if options.reply_to:
            msg["Reply-To"] = options.reply_to
        msg["Subject"] = subject
        msg["Date"] = format_datetime(at or publication.published_at)
        msg["Message-ID"] = f"<{MESSAGE_ID_MARK}@{options.domain}>"
        if options.list_id:
            msg["List-Id"] = options.list_id
        msg.set_content(plain, subtype="plain", charset="utf-8", cte="quoted-printable")
        msg.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
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

    def render(
        self, publication: Publication, locale: str, at: datetime | None = None
    ) -> Rendition:
        """The release as it would go out, naming what is attached."""
        recipients = list(self.options.recipients)
        msg = self.build(publication, locale, recipients, at)
        data, subject = msg.as_bytes(), str(msg["Subject"])
        attached = [
            f"{part.get_filename()} ({part.get_content_type()})" for part in msg.iter_attachments()
        ]
        if attached:
            subject += f"; attached: {', '.join(attached)}"
        return Rendition(
            channel=self.name,
            locale=locale,
            media_type="message/rfc822",
            body=data,
            summary=f"email to {len(recipients)} desk address(es): {subject} ({len(data)} bytes)",
            files={"email.eml": data},
        )

    def render_withdrawal(self, publication: Publication, locale: str, at: datetime) -> Rendition:
        """The withdrawal notice as a press release, with the reason."""
        return self.render(publication, locale, at)

    async def recipients(self, publication: Publication) -> AsyncIterator[list[tuple[str, str]]]:
        """Every desk address, once (desks read the default locale); none for a correction
        staff called minor."""
        if publication.notice is not None and not publication.notice.emails:
            return
        yield [(address, DEFAULT_LOCALE) for address in self.options.recipients]

"""Email to the subscriber list (`audience: subscribers`): list mail, personalised per reader.

Rendering builds one message per (publication, locale) with placeholders for each
subscriber's address, tokens and Message-ID; the mail engine fills them in per delivery.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import datetime
from email.utils import format_datetime
from typing import Any, ClassVar, Self

from broadcaster.channels.base import (
    ChannelOptions,
    Rendition,
    Resources,
)
from broadcaster.channels.email import EmailDelivery, EmailOptions
from broadcaster.mail.bodies import bodies
from broadcaster.mail.compose import PREFERENCES_MARK, UNSUBSCRIBE_MARK, list_message
from broadcaster.mail.outbound import Outbound
from broadcaster.outbox.views import OutboxViews
from broadcaster.settings import Settings
from broadcaster.subscribers.api import SubscriberStore, Tokens
from broadcaster.text.render import Publication, Templates
from broadcaster.workspace.models import DEFAULT_LOCALE, Frequency

log = logging.getLogger(__name__)

# Subscribers read from the store per outbox insert: small enough that enqueueing a long
# list beside a running fan-out adds little to the peak memory.
RECIPIENT_BATCH = 1000


class SubscriberEmailChannel(EmailDelivery):
    """List mail to the subscribers of a campaign's topics (pre-built, then personalised)."""

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
        history: OutboxViews | None = None,
    ):
        self.name = name
        self.history = history
        self.options = options
        self.templates = templates
        self.subscribers = subscribers
        self.outbound = Outbound(
            name,
            options,
            settings.root,
            lambda: settings.secret_key,
            list_mail=True,
            subscribers=subscribers,
            tokens=tokens,
        )

    @classmethod
    def from_config(cls, name: str, options: Any, resources: Resources) -> Self:
        return cls(
            name,
            options,
            resources.templates,
            resources.settings,
            subscribers=resources.subscribers,
            tokens=resources.tokens,
            history=resources.history,
        )

    @property
    def bounce_domain(self) -> str:
        """Bounces come back to VERP addresses at the sender's domain."""
        return self.options.domain

    def _links(self, publication: Publication) -> dict[str, str]:
        base = publication.base_url
        return {
            "unsubscribe": f"{base}/unsubscribe/{UNSUBSCRIBE_MARK}",
            "preferences": f"{base}/preferences/{PREFERENCES_MARK}",
            "unsubscribe_mailto": (
                f"mailto:unsubscribe@{self.options.domain}?subject=unsubscribe%20{UNSUBSCRIBE_MARK}"
            ),
        }

    def _bodies(
        self, publication: Publication, locale: str, at: datetime | None = None
    ) -> tuple[str, str, str]:
        links = self._links(publication)
        return bodies(
            self.templates,
            publication,
            locale,
            audience="subscribers",
            links=links,
            withdrawn_at=at,
        )

    def list_template(
        self, publication: Publication, locale: str, at: datetime | None = None
    ) -> bytes:
        """The list message with placeholders for each subscriber's address, tokens and id."""
        options = self.options
        subject, plain, html = self._bodies(publication, locale, at)
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

    def render(
        self, publication: Publication, locale: str, at: datetime | None = None
    ) -> Rendition:
        """The message as it would go out, with a placeholder address and links."""
        data = self.list_template(publication, locale, at)
        subject = self._bodies(publication, locale, at)[0]
        return Rendition(
            channel=self.name,
            locale=locale,
            media_type="message/rfc822",
            body=data,
            summary=f"email to each subscriber: {subject} ({len(data)} bytes)",
            files={"email.eml": data},
        )

    def render_withdrawal(self, publication: Publication, locale: str, at: datetime) -> Rendition:
        """The short notice that the campaign was withdrawn at `at`, with the reason."""
        return self.render(publication, locale, at)

    async def recipients(self, publication: Publication) -> AsyncIterator[list[tuple[str, str]]]:
        """Subscribers of the campaign's topics who chose `immediate`; for a correction,
        those this list sent an earlier version (none when staff called it minor)."""
        if self.subscribers is None:
            log.warning("channel %s: no subscriber store; nobody to send to", self.name)
            return
        if publication.is_correction:
            if publication.notice is not None and publication.notice.emails:
                had_it = await self.withdrawal_recipients(publication.campaign.id)
                for start in range(0, len(had_it), RECIPIENT_BATCH):
                    yield had_it[start : start + RECIPIENT_BATCH]
            return
        # A reader whose language the campaign lacks gets the default locale's rendition
        # for their locale, which says so in one line; renditions exist for each.
        locales = set(publication.workspace.locales)
        topics = publication.campaign.topics
        batches = self.subscribers.recipients(topics, Frequency.IMMEDIATE, RECIPIENT_BATCH)
        async for batch in batches:
            yield [(str(r.id), r.locale if r.locale in locales else DEFAULT_LOCALE) for r in batch]

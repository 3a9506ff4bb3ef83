"""Who sees what in a digest, and the digest email itself (rendered once per variant).

A variant is everything that makes two digests differ: the reader's locale and the
sections (topic -> publications) they get. Subscribers whose digests would be identical
share one rendition, stored under the locale key `<locale>|<hash of the sections>`, the
key the mail engine looks renditions up by for each delivery.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from zoneinfo import ZoneInfo

import css_inline

from broadcaster.channels.base import Rendition
from broadcaster.channels.email import EmailOptions
from broadcaster.mail.compose import PREFERENCES_MARK, UNSUBSCRIBE_MARK, list_message
from broadcaster.publishing.digests.snapshot import DigestEntry, DigestSnapshot
from broadcaster.publishing.digests.strings import digest_text, period_key
from broadcaster.text.render import Templates
from broadcaster.text.strings import long_date
from broadcaster.workspace.models import Topic

# The rendition/delivery locale column holds 16 characters: `<locale>|` and the hash.
LOCALE_KEY_LENGTH = 16
MIN_HASH_LENGTH = 6


@dataclass(frozen=True)
class DigestReader:
    """A digest subscriber as far as composing needs: no address, no tokens."""

    id: int
    locale: str
    topics: frozenset[str]
    since: datetime  # list only publications created after this


@dataclass(frozen=True)
class Section:
    topic: str
    entries: tuple[DigestEntry, ...]


def sections_for(
    reader: DigestReader, entries: Sequence[DigestEntry], topic_order: Sequence[str]
) -> tuple[Section, ...]:
    """The reader's digest: new publications per chosen topic, each listed once."""
    fresh = [e for e in entries if e.created_at > reader.since]
    listed: set[int] = set()
    sections: list[Section] = []
    ordered = [t for t in topic_order if t in reader.topics]
    ordered += sorted(reader.topics - set(ordered))
    for topic in ordered:
        chosen = tuple(e for e in fresh if topic in e.topics and e.publication_id not in listed)
        if chosen:
            sections.append(Section(topic, chosen))
            listed.update(e.publication_id for e in chosen)
    return tuple(sections)


def variant_key(locale: str, sections: Sequence[Section]) -> str:
    """The rendition key of this (locale, sections) variant; the same content, the same key."""
    shape = ";".join(
        f"{section.topic}:{','.join(str(e.publication_id) for e in section.entries)}"
        for section in sections
    )
    digest = hashlib.sha256(f"{locale}\x1f{shape}".encode()).hexdigest()
    length = max(MIN_HASH_LENGTH, LOCALE_KEY_LENGTH - len(locale) - 1)
    return f"{locale}|{digest[:length]}"


@dataclass(frozen=True)
class DigestRenderer:
    """Renders digest emails for one digest channel, with the list headers of list mail."""

    channel: str
    options: EmailOptions
    templates: Templates
    base_url: str
    topics: Mapping[str, Topic]
    timezone: ZoneInfo

    def render(
        self,
        snapshot: DigestSnapshot,
        publication_id: int,
        locale: str,
        sections: Sequence[Section],
    ) -> Rendition:
        """The digest for one variant, with the mail engine's per-recipient placeholders."""
        key = variant_key(locale, sections)
        subject, data = self.build(snapshot, locale, sections)
        count = sum(len(section.entries) for section in sections)
        return Rendition(
            channel=self.channel,
            locale=key,
            media_type="message/rfc822",
            body=data,
            summary=f"digest {publication_id} of {count} publication(s) in {locale}: {subject}",
            files={"email.eml": data},
        )

    def build(
        self, snapshot: DigestSnapshot, locale: str, sections: Sequence[Section]
    ) -> tuple[str, bytes]:
        """(subject, message): multipart/alternative plain text and inlined-CSS HTML."""
        options = self.options
        period = period_key(snapshot.frequency)
        day = long_date(snapshot.fire_time.astimezone(self.timezone), locale)
        subject = digest_text(f"subject_{period}", locale).format(date=day)
        links = self._links()
        context = {
            "locale": locale,
            "intro": digest_text(f"intro_{period}", locale),
            "subject": subject,
            "sections": [self._section(section, locale) for section in sections],
            "links": links,
            "d": lambda name: digest_text(name, locale),
        }
        html = css_inline.inline(self.templates.render("email/digest.html", **context))
        plain = self.templates.render("email/digest.txt", **context)
        headers = [("From", options.from_), ("Subject", subject)]
        headers.append(("Date", format_datetime(snapshot.fire_time)))
        if options.reply_to:
            headers.append(("Reply-To", options.reply_to))
        if options.list_id:
            headers.append(("List-Id", options.list_id))
        message = list_message(
            static_headers=headers,
            unsubscribe_url=links["unsubscribe"],
            unsubscribe_mailto=links["unsubscribe_mailto"],
            language=locale,
            text=plain,
            html=html,
        )
        return subject, message

    def _links(self) -> dict[str, str]:
        # The list mail placeholders, filled per delivery as in every list message.
        base = self.base_url.rstrip("/")
        return {
            "unsubscribe": f"{base}/unsubscribe/{UNSUBSCRIBE_MARK}",
            "preferences": f"{base}/preferences/{PREFERENCES_MARK}",
            "unsubscribe_mailto": (
                f"mailto:unsubscribe@{self.options.domain}?subject=unsubscribe%20{UNSUBSCRIBE_MARK}"
            ),
        }

    def _section(self, section: Section, locale: str) -> dict[str, object]:
        topic = self.topics.get(section.topic)
        items = []
        for entry in section.entries:
            text, fallback = entry.text(locale)
            items.append(
                {
                    "title": text.title,
                    "summary": text.summary,
                    "url": text.url,
                    "fallback": fallback,
                    "urgent": entry.urgent,
                    "change": entry.change,
                    "reason": entry.reason,
                    "published": long_date(entry.published_at.astimezone(self.timezone), locale),
                }
            )
        return {"name": topic.name(locale) if topic else section.topic, "entries": items}

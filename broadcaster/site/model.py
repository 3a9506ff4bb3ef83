"""What the website shows: campaigns sorted into current and archive, lists and contact cards."""

from __future__ import annotations

import enum
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from broadcaster.text.render import Content, Publication
from broadcaster.workspace.models import DEFAULT_LOCALE, Priority


class Status(enum.StrEnum):
    CURRENT = "current"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True)
class Entry:
    """A campaign's latest publication and where the site shows it at build time."""

    publication: Publication
    status: Status

    @property
    def id(self) -> str:
        return self.publication.campaign.id

    @property
    def urgent(self) -> bool:
        return self.publication.campaign.priority == Priority.URGENT

    @property
    def changed_at(self) -> datetime:
        """When the campaign's page last changed: published, took effect, or expired."""
        campaign = self.publication.campaign
        moments = [self.publication.published_at, campaign.valid_from]
        if self.status == Status.EXPIRED and campaign.expires is not None:
            moments.append(campaign.expires)
        return max(moments)

    def path(self, locale: str) -> str:
        """The page's folder relative to the site root, for example `vi/online-submission/`."""
        return f"{self.publication.content(locale).locale}/{self.id}/"


@dataclass(frozen=True)
class Item:
    """A campaign as one line of a list (home, archive, embed) in the list's locale."""

    entry: Entry
    locale: str

    @property
    def publication(self) -> Publication:
        return self.entry.publication

    @property
    def content(self) -> Content:
        """The text, in the default locale when the campaign lacks the list's locale."""
        return self.entry.publication.content(self.locale)

    @property
    def lang(self) -> str:
        return self.content.locale

    @property
    def path(self) -> str:
        return self.entry.path(self.locale)

    @property
    def status(self) -> str:
        return str(self.entry.status)

    @property
    def urgent(self) -> bool:
        return self.entry.urgent

    @property
    def expires(self) -> datetime | None:
        return self.entry.publication.campaign.expires

    @property
    def other_topics(self) -> list[str]:
        """Names of the campaign's topics after its first (the one it is listed under)."""
        return self.entry.publication.topic_names(self.locale)[1:]


@dataclass(frozen=True)
class TopicGroup:
    id: str
    name: str
    items: list[Item]


@dataclass(frozen=True)
class Contact:
    """One person, helpline or support point from a campaign's `data`, in one locale.

    `lang` is the language its text is in: the default locale's when it has no translation.
    """

    name: str
    lang: str
    unit: str | None = None
    address: str | None = None
    phone: str | None = None
    email: str | None = None
    hours: str | None = None

    @property
    def tel(self) -> str | None:
        """A `tel:` URI: the number's digits (and a leading +), or None without digits."""
        if not self.phone:
            return None
        digits = re.sub(r"[^0-9+]", "", self.phone)
        digits = digits[:1] + digits[1:].replace("+", "")
        return f"tel:{digits}" if any(c.isdigit() for c in digits) else None

    @property
    def mailto(self) -> str | None:
        return f"mailto:{quote(self.email, safe='@.+-_')}" if self.email else None


@dataclass(frozen=True)
class ContactSection:
    """The contacts and support points one current campaign lists."""

    item: Item
    contacts: list[Contact]
    points: list[Contact]


def classify(publication: Publication, withdrawn: Collection[str], now: datetime) -> Status | None:
    """Current, expired or withdrawn; None before `valid_from` (not on the site yet)."""
    campaign = publication.campaign
    if now < campaign.valid_from:
        return None
    if campaign.id in withdrawn:
        return Status.WITHDRAWN
    return Status.CURRENT if campaign.is_current(now) else Status.EXPIRED


def latest_per_campaign(publications: Iterable[Publication]) -> list[Publication]:
    """One publication per campaign: the latest (ties broken by revision), sorted by id."""
    latest: dict[str, Publication] = {}
    for publication in publications:
        known = latest.get(publication.campaign.id)
        key = (publication.published_at, publication.campaign.revision)
        if known is None or key > (known.published_at, known.campaign.revision):
            latest[publication.campaign.id] = publication
    return [latest[key] for key in sorted(latest)]


def site_locales(entries: Iterable[Entry]) -> list[str]:
    """Every locale a shown campaign is written in, default locale first."""
    found = {DEFAULT_LOCALE}
    for entry in entries:
        found.update(entry.publication.campaign.locales)
    return sorted(found, key=lambda loc: (loc != DEFAULT_LOCALE, loc))


def current_order(entry: Entry) -> tuple[bool, float, float, str]:
    """Urgent first, then the guidance that took effect most recently."""
    campaign = entry.publication.campaign
    return (
        not entry.urgent,
        -campaign.valid_from.timestamp(),
        -entry.publication.published_at.timestamp(),
        entry.id,
    )


def archive_order(entry: Entry) -> tuple[float, str]:
    """Newest first: by the date the guidance took effect."""
    return (-entry.publication.campaign.valid_from.timestamp(), entry.id)


def topic_groups(current: Sequence[Entry], locale: str) -> list[TopicGroup]:
    """Current campaigns under their first topic; groups holding urgent guidance come first."""
    by_topic: dict[str, list[Entry]] = {}
    for entry in sorted(current, key=current_order):
        by_topic.setdefault(entry.publication.campaign.topics[0], []).append(entry)
    if not by_topic:
        return []
    topics = next(iter(current)).publication.workspace.topics
    known = list(topics)

    def order(topic_id: str) -> tuple[bool, int, str]:
        has_urgent = any(entry.urgent for entry in by_topic[topic_id])
        position = known.index(topic_id) if topic_id in topics else len(known)
        return (not has_urgent, position, topic_id)

    return [
        TopicGroup(
            id=topic_id,
            name=topics[topic_id].name(locale) if topic_id in topics else topic_id,
            items=[Item(entry, locale) for entry in by_topic[topic_id]],
        )
        for topic_id in sorted(by_topic, key=order)
    ]


_CONTACT_FIELDS = ("name", "unit", "address", "phone", "email", "hours")


def _scalar(value: object) -> str | None:
    if value is None or isinstance(value, Mapping | list | tuple | set):
        return None
    text = str(value).strip()
    return text or None


def localized_record(record: Mapping[str, Any], locale: str) -> dict[str, str]:
    """A data record's fields in `locale`: top-level values overridden by its `<locale>:` map."""
    fields = {key: _scalar(value) for key, value in record.items()}
    overrides = record.get(locale) if locale != DEFAULT_LOCALE else None
    if isinstance(overrides, Mapping):
        fields.update({key: _scalar(value) for key, value in overrides.items()})
    return {key: value for key, value in fields.items() if value is not None}


def contacts_from(data: Mapping[str, Any], key: str, locale: str) -> list[Contact]:
    """The records under `data[key]` (a list of mappings) as contacts; others are skipped."""
    records = data.get(key)
    if not isinstance(records, list):
        return []
    contacts = []
    for record in records:
        if not isinstance(record, Mapping):
            continue
        fields = localized_record(record, locale)
        if "name" not in fields:
            continue
        translated = locale == DEFAULT_LOCALE or isinstance(record.get(locale), Mapping)
        known = {key: value for key, value in fields.items() if key in _CONTACT_FIELDS}
        contacts.append(Contact(lang=locale if translated else DEFAULT_LOCALE, **known))
    return contacts


def contact_sections(current: Sequence[Entry], locale: str) -> list[ContactSection]:
    """One section per current campaign whose `data` has `contacts` or `points`."""
    sections = []
    for entry in sorted(current, key=current_order):
        data = entry.publication.campaign.data
        contacts = contacts_from(data, "contacts", locale)
        points = contacts_from(data, "points", locale)
        if contacts or points:
            sections.append(ContactSection(Item(entry, locale), contacts, points))
    return sections

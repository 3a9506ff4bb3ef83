"""The validated, frozen shape of a workspace: what every other module consumes."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from broadcaster.workspace.alerts import Alert, AlertArea
    from broadcaster.workspace.options import ChannelOptions

DEFAULT_LOCALE = "vi"


class Priority(enum.StrEnum):
    NORMAL = "normal"
    URGENT = "urgent"


class ApprovalPolicy(enum.StrEnum):
    """`workspace.yaml` `approval:`: who must agree before a campaign revision goes out."""

    TWO_PERSON = "two-person"  # an approver who never saved the revision
    NONE = "none"  # anyone who can publish releases alone


class Frequency(enum.StrEnum):
    IMMEDIATE = "immediate"
    DAILY = "daily"
    WEEKLY = "weekly"


@dataclass(frozen=True)
class Topic:
    id: str
    names: Mapping[str, str]

    def name(self, locale: str) -> str:
        """The topic's name in `locale`, falling back to the default locale."""
        return self.names.get(locale) or self.names.get(DEFAULT_LOCALE) or self.id


@dataclass(frozen=True)
class LocalizedDoc:
    """One `campaigns/<id>/<locale>.md`: front matter plus the Markdown body template."""

    locale: str
    title: str
    summary: str
    body: str
    path: str
    body_line: int
    changes: str = ""  # front matter `changes:`: what the latest correction changed


@dataclass(frozen=True)
class Campaign:
    id: str
    topics: tuple[str, ...]
    priority: Priority
    valid_from: datetime
    expires: datetime | None
    issuer: Mapping[str, str]
    reference: str | None
    data: Mapping[str, Any]
    docs: Mapping[str, LocalizedDoc]
    attachments: tuple[str, ...]
    revision: str
    # `alert:` in campaign.yaml, defaults filled in; urgent campaigns always have one.
    alert: Alert | None = None

    @property
    def locales(self) -> tuple[str, ...]:
        """Locales this campaign is written in, default locale first."""
        return tuple(sorted(self.docs, key=lambda loc: (loc != DEFAULT_LOCALE, loc)))

    def doc(self, locale: str) -> LocalizedDoc:
        """The document in `locale`, or the default locale's when it lacks one."""
        return self.docs.get(locale) or self.docs[DEFAULT_LOCALE]

    def issuer_name(self, locale: str) -> str:
        return self.issuer.get(locale) or self.issuer.get(DEFAULT_LOCALE, "")

    def is_current(self, at: datetime) -> bool:
        """True while the campaign is valid: from `valid_from` until `expires`."""
        return self.valid_from <= at and (self.expires is None or at < self.expires)


@dataclass(frozen=True)
class ChannelConfig:
    """One `channels/<name>.yaml`, with `${ENV}` values already substituted."""

    name: str
    type: str
    options: ChannelOptions
    path: str


@dataclass(frozen=True)
class Schedule:
    id: str
    campaign: str | None
    digest: str | None
    frequency: Frequency | None
    channels: tuple[str, ...]
    at: datetime | None
    cron: str | None
    every: timedelta | None
    until: datetime | None


@dataclass(frozen=True)
class LocaleSpeech:
    """How to read text aloud in one locale (see campaigns/glossary.yaml)."""

    words_per_minute: int
    abbreviations: Mapping[str, str]
    # Host -> the name of the site, said before its address when the text has not said it.
    domains: Mapping[str, str] = field(default_factory=dict)
    # Host -> how its address is said, when spelling it out is not what listeners type.
    addresses: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Glossary:
    locales: Mapping[str, LocaleSpeech]

    def for_locale(self, locale: str) -> LocaleSpeech:
        return self.locales.get(locale) or self.locales[DEFAULT_LOCALE]


@dataclass(frozen=True)
class PressContact:
    """The press office's contact, shown on every release in the press room."""

    name: Mapping[str, str]
    phone: str
    email: str


@dataclass(frozen=True)
class Press:
    """`workspace.yaml` `press:`: the issuer's place, written in each release's date line
    ("Khánh Hòa, ngày 9 tháng 7 năm 2021"), and the press contact."""

    place: Mapping[str, str]
    contact: PressContact | None = None


@dataclass(frozen=True)
class Workspace:
    root: Path
    timezone: ZoneInfo
    topics: Mapping[str, Topic]
    campaigns: Mapping[str, Campaign]
    channels: Mapping[str, ChannelConfig]
    schedules: tuple[Schedule, ...]
    glossary: Glossary
    approval: ApprovalPolicy = ApprovalPolicy.TWO_PERSON
    alerts: AlertArea | None = None  # workspace.yaml `alerts:`
    press: Press | None = None
    # workspace.yaml `issuer:` and `default_topics:`, what a new campaign starts with.
    issuer: Mapping[str, str] = field(default_factory=dict)
    default_topics: tuple[str, ...] = ()

    @property
    def locales(self) -> tuple[str, ...]:
        """Every locale a campaign or topic is written in, default first."""
        found = {DEFAULT_LOCALE}
        for campaign in self.campaigns.values():
            found.update(campaign.docs)
        for topic in self.topics.values():
            found.update(topic.names)
        return tuple(sorted(found, key=lambda loc: (loc != DEFAULT_LOCALE, loc)))

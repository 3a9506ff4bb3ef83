"""Times on staff pages: in the workspace's time zone, labelled, written in the page language.

The store keeps UTC; people read local time ("ngày 2 tháng 12 năm 2026, 23:27" in Vietnamese,
"2 December 2026, 23:27" in English), with the zone named where the time is shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from babel.dates import format_datetime, get_timezone_gmt, get_timezone_location
from markupsafe import Markup, escape

PATTERNS = {
    "vi": "'ngày' d 'tháng' M 'năm' y, HH:mm",
    "en": "d MMMM y, HH:mm",
}
DAY_PATTERNS = {"vi": "d/M", "en": "d MMM"}


def as_datetime(value: datetime | str) -> datetime:
    """A stored time (aware, naive UTC, or ISO text) as an aware datetime."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class LocalTime:
    """Formats times for one page: one zone, one language."""

    zone: ZoneInfo
    lang: str

    def text(self, value: datetime | str | None) -> str:
        """The time as a person reads it, in the zone and language ('' for none)."""
        if value is None or value == "":
            return ""
        moment = as_datetime(value).astimezone(self.zone)
        pattern = PATTERNS.get(self.lang, PATTERNS["en"])
        return format_datetime(moment, pattern, tzinfo=self.zone, locale=self.lang)

    def day(self, value: datetime) -> str:
        """A short day label (chart axes)."""
        moment = as_datetime(value).astimezone(self.zone)
        pattern = DAY_PATTERNS.get(self.lang, DAY_PATTERNS["en"])
        return format_datetime(moment, pattern, tzinfo=self.zone, locale=self.lang)

    def label(self, at: datetime | None = None) -> str:
        """The zone's name and offset: "Giờ Việt Nam, GMT+07:00"."""
        moment = (at or datetime.now(UTC)).astimezone(self.zone)
        name = get_timezone_location(self.zone, locale=self.lang)
        return f"{name}, {get_timezone_gmt(moment, 'long', locale=self.lang)}"

    def html(self, value: datetime | str | None, labelled: bool = False) -> Markup:
        """A <time> element with the exact UTC instant as its machine-readable value."""
        if value is None or value == "":
            return Markup("")
        moment = as_datetime(value)
        shown = self.text(moment) + (f" ({self.label(moment)})" if labelled else "")
        instant = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return Markup('<time datetime="{}">{}</time>').format(instant, escape(shown))

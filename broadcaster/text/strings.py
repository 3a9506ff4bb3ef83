"""Interface strings and date formats per locale (campaign text itself comes from the workspace)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import cache
from pathlib import Path

import yaml
from babel.core import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime

from broadcaster.workspace.models import DEFAULT_LOCALE

_STRINGS = Path(__file__).parents[1] / "defaults" / "strings.yaml"


@cache
def _table() -> dict[str, dict[str, str]]:
    with _STRINGS.open(encoding="utf-8") as handle:
        data: dict[str, dict[str, str]] = yaml.safe_load(handle)
    return data


def text(key: str, locale: str) -> str:
    """The interface string `key` in `locale`, falling back to the default locale."""
    table = _table()
    # A reader of a language we have no strings for is better served by English.
    chosen = table.get(locale) or table.get("en") or {}
    return chosen.get(key) or table[DEFAULT_LOCALE][key]


def localized(values: Mapping[str, str], locale: str) -> str:
    """`values[locale]`, else the default locale's, else any (a title written per locale)."""
    return values.get(locale) or values.get(DEFAULT_LOCALE) or next(iter(values.values()), "")


def _babel_locale(locale: str) -> Locale:
    try:
        return Locale.parse(locale.replace("-", "_"))
    except (ValueError, UnknownLocaleError):
        return Locale.parse(DEFAULT_LOCALE)


def long_date(moment: datetime, locale: str) -> str:
    """'9 tháng 7, 2021' / 'July 9, 2021'."""
    return format_date(moment, "long", locale=_babel_locale(locale))


def date_time(moment: datetime, locale: str) -> str:
    """Date and time in the moment's own zone, for people reading it there."""
    return format_datetime(moment, "medium", tzinfo=moment.tzinfo, locale=_babel_locale(locale))


def language_name(locale: str) -> str:
    """The language's own name ('Tiếng Việt', 'English')."""
    table = _table()
    if locale in table:
        return table[locale]["language_name"]
    return _babel_locale(locale).display_name or locale

"""Admin UI strings through Babel: English message ids, Vietnamese (the default) from vi.po."""

from __future__ import annotations

import functools
from pathlib import Path

from babel.messages.pofile import read_po
from babel.support import NullTranslations

LOCALES = ("vi", "en")
DEFAULT = "vi"
_FOLDER = Path(__file__).with_name("locale")


class CatalogTranslations(NullTranslations):
    """gettext over a Babel catalog read from a .po file (no compile step needed)."""

    def __init__(self, messages: dict[str, str]) -> None:
        super().__init__()
        self._messages = messages

    def gettext(self, message: str) -> str:
        return self._messages.get(message) or message

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.gettext(singular if n == 1 else plural)

    # Jinja2's i18n extension prefers these names (Babel's base class aliases its own).
    ugettext = gettext
    ungettext = ngettext  # type: ignore[assignment]


@functools.cache
def translations(locale: str) -> NullTranslations:
    """The translations for `locale`; English is the message ids themselves."""
    path = _FOLDER / f"{locale}.po"
    if locale == "en" or not path.is_file():
        return NullTranslations()
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=locale)
    return CatalogTranslations(
        {str(m.id): str(m.string) for m in catalog if m.id and isinstance(m.id, str) and m.string}
    )

"""Every admin page string has a Vietnamese translation (Vietnamese is the default)."""

from __future__ import annotations

from pathlib import Path

import pytest
from jinja2.ext import babel_extract

from broadcaster.web.admin.i18n import translations
from broadcaster.web.admin.pages import TEMPLATES

# Words the templates translate from data: statuses, review states, roles, actions.
VOCABULARY = [
    *("draft", "in-review", "approved", "scheduled", "published", "expired", "withdrawn"),
    *("held", "queuing", "sending", "retrying", "failed", "delivered", "pending"),
    *("rejected", "emergency", "not-required", "requested"),
    *("author", "approver", "admin"),
    *("created", "saved", "retried", "password-set", "password-changed"),
    *("role", "disable", "enable", "link"),
    # Partners: states, delivery statuses, what was done.
    *("enabled", "disabled", "gone", "dead-lettered", "cancelled"),
    *("temporary-failure", "permanent-failure", "technical-failure"),
    *("added", "rotated", "removed", "replayed"),
]


def _messages(path: Path) -> list[str]:
    with path.open("rb") as handle:
        found = babel_extract(handle, ("_", "gettext", "ngettext"), [], {})
        return [m for _, _, m, _ in found if isinstance(m, str)]


@pytest.mark.parametrize("path", sorted(TEMPLATES.glob("*.html")), ids=lambda p: p.name)
def test_every_template_string_is_translated(path: Path) -> None:
    vi = translations("vi")
    missing = [m for m in _messages(path) if vi.gettext(m) == m]
    assert missing == [], f"add these to broadcaster/web/admin/locale/vi.po: {missing}"


def test_the_status_vocabulary_is_translated() -> None:
    vi = translations("vi")
    assert [w for w in VOCABULARY if vi.gettext(w) == w] == []


def test_the_vietnamese_catalog_has_no_empty_or_broken_entry() -> None:
    """Every entry is translated, and keeps the holes (`%(name)s`) its English has."""
    import re

    from babel.messages.pofile import read_po

    with (TEMPLATES.parents[1] / "web" / "admin" / "locale" / "vi.po").open("rb") as handle:
        catalog = read_po(handle, locale="vi")
    holes = re.compile(r"%\(\w+\)s")
    empty = [m.id for m in catalog if m.id and not m.string]
    broken = [
        m.id
        for m in catalog
        if m.id
        and m.string
        and sorted(holes.findall(str(m.id))) != sorted(holes.findall(str(m.string)))
    ]
    assert empty == []
    assert broken == []

"""Messages for people in the UI's language, and `check` problems placed next to their field.

A message made from a pattern ("publishing needs the approver role; you are author") is
translated by the catalog entry whose msgid has the same shape with `%(name)s` holes
("%(what)s needs the %(role)s role; you are %(you)s"): the holes' values are translated
too when the catalog knows them.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping

from broadcaster.web.admin.i18n import translations
from broadcaster.workspace.diagnostics import Problem

_HOLE = re.compile(r"%\((\w+)\)s")


@functools.cache
def _patterns(locale: str) -> list[tuple[re.Pattern[str], str]]:
    gettext = translations(locale)
    messages = getattr(gettext, "_messages", {})
    found = []
    for msgid, msgstr in messages.items():
        if not _HOLE.search(msgid):
            continue
        parts = _HOLE.split(msgid)
        regex = "".join(
            re.escape(p) if i % 2 == 0 else f"(?P<{p}>.+?)" for i, p in enumerate(parts)
        )
        found.append((re.compile(f"^{regex}$", re.DOTALL), msgstr))
    # The most specific (longest fixed text) first.
    found.sort(key=lambda pair: -len(_HOLE.sub("", pair[0].pattern)))
    return found


def translate(locale: str, message: str, depth: int = 0) -> str:
    """`message` in `locale`: a catalog entry, or a pattern of one with its holes filled."""
    gettext = translations(locale)
    exact = gettext.gettext(message)
    if exact != message or locale == "en" or depth > 2:
        return exact
    for regex, template in _patterns(locale):
        match = regex.match(message)
        if match:
            values = {k: translate(locale, v, depth + 1) for k, v in match.groupdict().items()}
            try:
                return template % values
            except (KeyError, ValueError):
                continue
    return message


FIELDS = ("topics", "priority", "valid_from", "expires", "issuer", "reference")
_TOP_KEY = re.compile(r"^([A-Za-z_][\w-]*)\s*:")
_DATA_KEY = re.compile(r"^\s+([A-Za-z_][\w-]*)\s*:")


def _yaml_field(text: str, line: int, tables: list[str]) -> str | None:
    lines = text.split("\n")[:line]
    top = None
    sub = None
    for number, content in enumerate(lines, 1):
        if (found := _TOP_KEY.match(content)) is not None:
            top, sub = found.group(1), None
        elif (
            top == "data"
            and (found := _DATA_KEY.match(content)) is not None
            and len(content) - len(content.lstrip()) == 2
        ):
            sub = found.group(1)
        if number == line:
            break
    if top == "data":
        return f"data.{sub}" if sub in tables else "data.links"
    return top if top in FIELDS else None


def _doc_field(text: str, locale: str, line: int) -> str:
    lines = text.split("\n")
    if line > 1 and lines and lines[0] == "---":
        for number, content in enumerate(lines[1:], 2):
            if content.strip() in ("---", "..."):
                if line < number:
                    for key in ("summary", "title"):
                        for n, c in enumerate(lines[1 : number - 1], 2):
                            if c.startswith(f"{key}:") and n <= line:
                                return f"{locale}.{key}"
                    return f"{locale}.title"
                break
        return f"{locale}.body"
    return f"{locale}.title" if line <= 1 else f"{locale}.body"


def place(
    problems: Iterable[Problem],
    campaign_id: str,
    files: Mapping[str, str],
    tables: Iterable[str],
) -> tuple[dict[str, list[Problem]], list[Problem]]:
    """The problems by form field (`expires`, `vi.body`, `data.contacts`...), and the rest."""
    by_field: dict[str, list[Problem]] = {}
    rest = []
    prefix = f"campaigns/{campaign_id}/"
    names = list(tables)
    for problem in problems:
        name = problem.path.removeprefix(prefix) if problem.path.startswith(prefix) else None
        where: str | None = None
        if name == "campaign.yaml":
            where = _yaml_field(files.get(name, ""), problem.line, names)
        elif name in ("vi.md", "en.md"):
            where = _doc_field(files.get(name, ""), name[:2], problem.line)
        elif name is not None and name.startswith("files/"):
            where = "attachments"
        if where is None:
            rest.append(problem)
        else:
            by_field.setdefault(where, []).append(problem)
    return by_field, rest

"""The form editor's view of a campaign: its files as fields, and fields back into files.

The editor reads `campaign.yaml`, `vi.md` and `en.md` into plain fields (titles, bodies,
topics, dates, contacts as table rows) and writes the same files back. Only what the form
changed is rewritten: `campaign.yaml` is updated in place (its comments and the data the
form does not show stay as they were) and a front matter whose title and summary did not
change is kept byte for byte.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

LOCALES = ("vi", "en")
FRONT = re.compile(r"\A---\n(?P<front>.*?)^(?:---|\.\.\.)[ \t]*\n?", re.MULTILINE | re.DOTALL)
# Tables of structured data: data key -> (columns, columns that also have an English wording).
TABLES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "contacts": (("name", "unit", "phone", "email", "hours"), ("name", "unit", "hours")),
    "points": (("name", "address", "phone", "hours"), ("name", "address", "hours")),
}
LINKS = "links"  # the pseudo-table of single values (portal addresses and the like)
PICKER = "%Y-%m-%dT%H:%M"  # what <input type=datetime-local> sends
WORDS_PER_MINUTE = 200


class FormUnusable(ValueError):
    """The files cannot be shown as a form (campaign.yaml is not a YAML mapping)."""


def _yaml() -> YAML:
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


@dataclass
class Text:
    """One language's title, summary and body, and the front matter they came from."""

    title: str = ""
    summary: str = ""
    body: str = ""
    front: str | None = None  # the original front matter text, kept when unchanged


@dataclass
class CampaignForm:
    """Every field the form editor shows."""

    texts: dict[str, Text] = field(default_factory=lambda: {loc: Text() for loc in LOCALES})
    topics: list[str] = field(default_factory=list)
    priority: str = "normal"
    valid_from: str = ""  # PICKER format, workspace time zone
    expires: str = ""
    issuer: dict[str, str] = field(default_factory=dict)
    reference: str = ""
    tables: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    locked: list[str] = field(default_factory=list)  # data keys the form cannot edit

    def table(self, name: str) -> list[dict[str, str]]:
        return self.tables.setdefault(name, [])


def columns(name: str) -> list[str]:
    """A table's form columns: its fields, then `en-<field>` for the translated ones."""
    if name == LINKS:
        return ["key", "value"]
    fields, translated = TABLES[name]
    return [*fields, *(f"en-{f}" for f in translated)]


def split_doc(text: str) -> Text:
    """A locale file as title, summary and body (an unreadable front matter: all body)."""
    text = text.replace("\r\n", "\n")
    match = FRONT.match(text)
    if match is None:
        return Text(body=text)
    try:
        front = YAML(typ="safe").load(match.group("front")) or {}
    except YAMLError:
        front = None
    if not isinstance(front, dict):
        return Text(body=text)
    return Text(
        str(front.get("title") or ""),
        str(front.get("summary") or ""),
        text[match.end() :].removeprefix("\n"),
        match.group(0),
    )


def _picker(value: Any, tz: ZoneInfo) -> str:
    if isinstance(value, datetime):
        when = value.replace(tzinfo=tz) if value.tzinfo is None else value.astimezone(tz)
        return when.strftime(PICKER)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=tz).strftime(PICKER)
    if isinstance(value, str):
        return value
    return ""


def _plain(value: Any) -> str:
    return "" if value is None else str(value)


def _rows(name: str, items: Any) -> list[dict[str, str]] | None:
    """Table rows from a data list, or None when it holds what the form cannot show."""
    fields, translated = TABLES[name]
    if not isinstance(items, list):
        return None
    rows = []
    for item in items:
        if not isinstance(item, dict) or set(item) - {*fields, "en"}:
            return None
        en = item.get("en") or {}
        if not isinstance(en, dict) or set(en) - set(translated):
            return None
        row = {f: _plain(item.get(f)) for f in fields}
        row |= {f"en-{f}": _plain(en.get(f)) for f in translated}
        rows.append(row)
    return rows


def load_meta(text: str) -> CommentedMap:
    """campaign.yaml as an editable mapping (empty for an empty file)."""
    try:
        meta = _yaml().load(text) if text.strip() else CommentedMap()
    except YAMLError as exc:
        raise FormUnusable(str(exc).splitlines()[0]) from None
    if not isinstance(meta, CommentedMap):
        raise FormUnusable("campaign.yaml is not a list of settings (key: value)")
    return meta


def from_files(files: dict[str, str], tz: ZoneInfo) -> CampaignForm:
    """The form's fields from the campaign's files."""
    meta = load_meta(files.get("campaign.yaml", ""))
    form = CampaignForm(texts={loc: split_doc(files.get(f"{loc}.md", "")) for loc in LOCALES})
    topics = meta.get("topics")
    form.topics = [str(t) for t in topics] if isinstance(topics, list) else []
    form.priority = _plain(meta.get("priority")) or "normal"
    form.valid_from = _picker(meta.get("valid_from"), tz)
    form.expires = _picker(meta.get("expires"), tz)
    issuer = meta.get("issuer")
    form.issuer = {k: _plain(v) for k, v in issuer.items()} if isinstance(issuer, dict) else {}
    form.reference = _plain(meta.get("reference"))
    data = meta.get("data")
    data = data if isinstance(data, dict) else {}
    links = []
    for key, value in data.items():
        rows = _rows(key, value) if key in TABLES else None
        if rows is not None:
            form.tables[key] = rows
        elif isinstance(value, str | int | float) and not isinstance(value, bool):
            links.append({"key": str(key), "value": str(value)})
        else:
            form.locked.append(str(key))
    form.tables[LINKS] = links
    for name in TABLES:
        form.tables.setdefault(name, [])
    return form


def from_post(post: Any) -> CampaignForm:
    """The form's fields from a posted form (a MultiDict)."""

    def one(key: str) -> str:
        value = post.get(key, "")
        return value.replace("\r\n", "\n") if isinstance(value, str) else ""

    form = CampaignForm(
        texts={
            loc: Text(
                one(f"{loc}.title").strip(), one(f"{loc}.summary").strip(), one(f"{loc}.body")
            )
            for loc in LOCALES
        },
        topics=[t for t in post.getall("topics", []) if isinstance(t, str)],
        priority=one("priority") or "normal",
        valid_from=one("valid_from").strip(),
        expires=one("expires").strip(),
        issuer={loc: one(f"issuer.{loc}").strip() for loc in LOCALES},
        reference=one("reference").strip(),
    )
    for name in (*TABLES, LINKS):
        try:
            count = min(int(one(f"{name}-rows") or 0), 500)
        except ValueError:
            count = 0
        rows = [{c: one(f"{name}-{i}-{c}").strip() for c in columns(name)} for i in range(count)]
        form.tables[name] = rows
    return form


def apply_row_op(form: CampaignForm, op: str) -> bool:
    """Add, remove or move a table row (`contacts:add`, `points:up:2`); True when done."""
    name, _, rest = op.partition(":")
    if name not in (*TABLES, LINKS):
        return False
    rows = form.table(name)
    action, _, index_text = rest.partition(":")
    if action == "add":
        rows.append(dict.fromkeys(columns(name), ""))
        return True
    try:
        index = int(index_text)
    except ValueError:
        return False
    if not 0 <= index < len(rows):
        return False
    if action == "remove":
        rows.pop(index)
    elif action == "up" and index > 0:
        rows[index - 1], rows[index] = rows[index], rows[index - 1]
    elif action == "down" and index < len(rows) - 1:
        rows[index + 1], rows[index] = rows[index], rows[index + 1]
    else:
        return False
    return True


def _when(value: str, tz: ZoneInfo) -> datetime | str:
    """A picker's value as an aware date-time; what cannot be read stays text for `check`."""
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return value
    return when.replace(tzinfo=tz) if when.tzinfo is None else when


def _data_item(name: str, row: dict[str, str]) -> CommentedMap:
    fields, translated = TABLES[name]
    item = CommentedMap((f, row.get(f, "")) for f in fields)  # a body may name every field
    en = CommentedMap((f, row[f"en-{f}"]) for f in translated if row.get(f"en-{f}"))
    if en:
        item["en"] = en
    return item


def _set(meta: CommentedMap, key: str, value: Any, after: str | None = None) -> None:
    """Set `key`, keeping its place; a new key goes after `after` when there is one."""
    if value in (None, "", [], {}):
        meta.pop(key, None)
        return
    if key in meta or after not in meta:
        meta[key] = value
        return
    meta.insert(list(meta).index(after) + 1, key, value)


def _update_meta(meta: CommentedMap, old: CampaignForm, new: CampaignForm, tz: ZoneInfo) -> None:
    if set(new.topics) != set(old.topics):
        kept = [t for t in old.topics if t in new.topics]
        topics = CommentedSeq(kept + [t for t in new.topics if t not in kept])
        topics.fa.set_flow_style()
        _set(meta, "topics", topics)
    if new.priority != old.priority:
        _set(meta, "priority", new.priority)
    for key, after in (("valid_from", "priority"), ("expires", "valid_from")):
        value = getattr(new, key)
        if value != getattr(old, key):
            _set(meta, key, _when(value, tz) if value else None, after)
    issuer = {k: v for k, v in new.issuer.items() if v}
    if issuer != {k: v for k, v in old.issuer.items() if v}:
        _set(meta, "issuer", CommentedMap(issuer), "expires")
    if new.reference != old.reference:
        _set(meta, "reference", new.reference or None, "issuer")
    data = meta.get("data")
    data = data if isinstance(data, CommentedMap) else CommentedMap()
    for name in TABLES:
        rows = [r for r in new.table(name) if any(r.values())]
        if name not in old.locked and rows != old.table(name):
            _set(data, name, [_data_item(name, r) for r in rows])
    links = {r["key"]: r["value"] for r in new.table(LINKS) if r.get("key")}
    before = {r["key"]: r["value"] for r in old.table(LINKS)}
    if links != before:
        for key in before:
            if key not in links:
                data.pop(key, None)
        for key, value in links.items():
            if before.get(key) != value:
                data[key] = value
    _set(meta, "data", data if data else None)


def _doc(text: Text, old: Text) -> str:
    if not (text.title or text.summary or text.body.strip()):
        return ""
    if old.front is not None and (text.title, text.summary) == (old.title, old.summary):
        front = old.front
    else:
        out = io.StringIO()
        _yaml().dump({"title": text.title, "summary": text.summary}, out)
        front = f"---\n{out.getvalue()}---\n"
    body = text.body if text.body.endswith("\n") else text.body + "\n"
    return f"{front}\n{body}"


def to_files(files: dict[str, str], new: CampaignForm, tz: ZoneInfo) -> dict[str, str]:
    """The campaign's files with the form's fields written into them."""
    old = from_files(files, tz)
    meta = load_meta(files.get("campaign.yaml", ""))
    _update_meta(meta, old, new, tz)
    out = io.StringIO()
    _yaml().dump(meta, out)
    written = {"campaign.yaml": out.getvalue()}
    for loc in LOCALES:
        if _words(new.texts[loc]) == _words(old.texts[loc]):
            written[f"{loc}.md"] = files.get(f"{loc}.md", "")
        else:
            written[f"{loc}.md"] = _doc(new.texts[loc], old.texts[loc])
    return written


def _words(text: Text) -> tuple[str, str, str]:
    return text.title, text.summary, text.body


def counts(body: str) -> tuple[int, int]:
    """A body's characters and its reading time in minutes (at least 1)."""
    words = len(re.sub(r"\{[{%].*?[%}]\}", " ", body).split())
    return len(body), max(1, round(words / WORDS_PER_MINUTE))

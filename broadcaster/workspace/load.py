"""Load and validate a workspace folder into frozen models, collecting every problem."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel

from broadcaster.channels import CHANNEL_TYPES
from broadcaster.settings import DEFAULT_TIMEZONE, Settings
from broadcaster.workspace import schema
from broadcaster.workspace.alerts import AlertArea
from broadcaster.workspace.campaigns import load_campaigns
from broadcaster.workspace.diagnostics import Diagnostics
from broadcaster.workspace.envsubst import is_reference, substitute
from broadcaster.workspace.models import (
    DEFAULT_LOCALE,
    ChannelConfig,
    Glossary,
    LocaleSpeech,
    Press,
    PressContact,
    Schedule,
    Topic,
    Workspace,
)
from broadcaster.workspace.reader import Reader
from broadcaster.workspace.schedules import check_schedules
from broadcaster.workspace.validation import validate
from broadcaster.workspace.yamlsource import Loc, YamlDoc

_PACKAGE_DEFAULTS = Path(__file__).parents[1] / "defaults"


def _load_timezone(reader: Reader, settings: Settings) -> tuple[ZoneInfo, YamlDoc | None]:
    doc = reader.yaml(reader.root / "schedules.yaml")
    name: object = settings.timezone
    if doc is not None and isinstance(doc.data, dict) and "timezone" in doc.data:
        name = doc.data["timezone"]
        try:
            if not isinstance(name, str):
                raise ValueError(name)
            return ZoneInfo(name), doc
        except (ZoneInfoNotFoundError, ValueError, OSError):
            reader.diag.error(
                "schedules.yaml",
                doc.line_of(("timezone",)),
                f"unknown time zone {name!r}; use an IANA name such as Asia/Ho_Chi_Minh",
            )
    try:
        return ZoneInfo(str(settings.timezone)), doc
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return ZoneInfo(DEFAULT_TIMEZONE), doc


def _load_topics(reader: Reader) -> dict[str, Topic]:
    path = reader.root / "campaigns" / "topics.yaml"
    doc = reader.yaml(path)
    if doc is None:
        return {}
    rel = reader.rel(path)
    parsed: dict[str, dict[str, str]] | None = validate(
        dict[schema.Identifier, schema.LocalizedText], doc, rel, reader.diag
    )
    if parsed is None:
        return {}
    for topic_id, names in parsed.items():
        if DEFAULT_LOCALE not in names:
            reader.diag.error(rel, doc.line_of((topic_id,)), f"topic '{topic_id}' has no 'vi' name")
    return {tid: Topic(tid, names) for tid, names in parsed.items()}


def _load_glossary(reader: Reader) -> Glossary:
    merged: dict[str, dict[str, Any]] = {}
    for path, required in (
        (_PACKAGE_DEFAULTS / "glossary.yaml", True),
        (reader.root / "campaigns" / "glossary.yaml", False),
    ):
        doc = reader.yaml(path, required=required)
        if doc is None:
            continue
        parsed: dict[str, schema.LocaleSpeechFile] | None = validate(
            dict[schema.Locale, schema.LocaleSpeechFile], doc, reader.rel(path), reader.diag
        )
        for locale, speech in (parsed or {}).items():
            entry = merged.setdefault(locale, {"abbreviations": {}, "domains": {}, "addresses": {}})
            entry["words_per_minute"] = speech.words_per_minute
            entry["abbreviations"].update(speech.abbreviations)
            entry["domains"].update(speech.domains)
            entry["addresses"].update(speech.addresses)
    locales = {loc: LocaleSpeech(**entry) for loc, entry in merged.items()}
    locales.setdefault(DEFAULT_LOCALE, LocaleSpeech(150, {}, {}))
    return Glossary(locales)


def _literal_secrets(model: type[BaseModel], data: object, loc: Loc = ()) -> Iterator[Loc]:
    """Where a secret field holds a literal value instead of a `${VAR}` reference."""
    if not isinstance(data, dict):
        return
    for name, field in model.model_fields.items():
        key = field.alias or name
        value = data.get(key)
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        if extra.get("secret") and value and not is_reference(value):
            yield (*loc, key)
        nested = field.annotation
        if isinstance(nested, type) and issubclass(nested, BaseModel):
            yield from _literal_secrets(nested, value, (*loc, key))


def _load_channel(reader: Reader, path: Path, settings: Settings) -> ChannelConfig | None:
    rel, name = reader.rel(path), path.stem
    doc = reader.yaml(path)
    if doc is None:
        return None
    if not isinstance(doc.data, dict):
        reader.diag.error(rel, doc.first_line, "a channel file must be a map with a 'type:' key")
        return None
    kinds = ", ".join(sorted(CHANNEL_TYPES))
    kind = doc.data.get("type")
    if kind is None:
        reader.diag.error(rel, doc.first_line, f"missing 'type:'; one of {kinds}")
        return None
    channel_type = CHANNEL_TYPES.get(str(kind)) if isinstance(kind, str) else None
    if channel_type is None:
        reader.diag.error(
            rel, doc.line_of(("type",)), f"unknown channel type {kind!r}; use one of {kinds}"
        )
        return None
    options_model = channel_type.Options
    for loc in _literal_secrets(options_model, doc.data):
        reader.diag.error(
            rel,
            doc.line_of(loc),
            f"'{loc[-1]}' is a secret: write ${{VARIABLE}} and set it in the environment",
        )
    data = substitute(
        doc.data,
        settings.environ,
        lambda loc, message: reader.diag.error(rel, doc.line_of(loc), message),
    )
    options = validate(options_model, doc, rel, reader.diag, data=data)
    if options is None:
        return None
    for problem in options.file_problems(reader.root):
        report = reader.diag.warning if problem.warning else reader.diag.error
        report(rel, doc.line_of(problem.loc), problem.message)
    return ChannelConfig(name=name, type=channel_type.type, options=options, path=rel)


def _load_channels(reader: Reader, settings: Settings) -> dict[str, ChannelConfig]:
    folder = reader.root / "channels"
    if not folder.is_dir():
        reader.diag.error(
            "channels", 1, "folder not found; create channels/ with one file a channel"
        )
        return {}
    channels: dict[str, ChannelConfig] = {}
    for path in sorted(folder.iterdir()):
        rel = reader.rel(path)
        if path.name.startswith("."):
            continue
        if path.suffix == ".yml":
            reader.diag.error(rel, 1, "channel files end in .yaml; rename this file")
            continue
        if path.suffix != ".yaml":
            reader.diag.warning(rel, 1, "not a .yaml file; ignored")
            continue
        if not re.fullmatch(schema.ID_PATTERN, path.stem):
            reader.diag.error(
                rel, 1, "a channel name uses lowercase letters, digits and '-'; rename the file"
            )
            continue
        config = _load_channel(reader, path, settings)
        if config is not None:
            channels[config.name] = config
    return channels


def _load_office(reader: Reader, topics: Mapping[str, Topic]) -> schema.WorkspaceFile:
    """`workspace.yaml`: the approval policy (two-person when the file or key is absent),
    the public alert area, the press room and the new-campaign defaults, whose topics must
    be in campaigns/topics.yaml."""
    path = reader.root / "workspace.yaml"
    doc = reader.yaml(path, required=False)
    if doc is None or doc.data is None:
        return schema.WorkspaceFile()
    parsed: schema.WorkspaceFile | None = validate(
        schema.WorkspaceFile, doc, reader.rel(path), reader.diag
    )
    if parsed is None:
        return schema.WorkspaceFile()
    known = ", ".join(topics) or "none"
    for i, topic in enumerate(parsed.default_topics):
        if topic not in topics:
            reader.diag.error(
                reader.rel(path),
                doc.line_of(("default_topics", i)),
                f"unknown topic '{topic}' in default_topics (campaigns/topics.yaml has: {known})",
            )
    if parsed.issuer is not None and DEFAULT_LOCALE not in parsed.issuer:
        reader.diag.error(reader.rel(path), doc.line_of(("issuer",)), "issuer needs a 'vi' name")
    return parsed


def _press(office: schema.WorkspaceFile) -> Press | None:
    """The press room's place and contact (None when `press:` is absent)."""
    if office.press is None:
        return None
    contact = office.press.contact
    return Press(
        place=dict(office.press.place),
        contact=PressContact(dict(contact.name), contact.phone, contact.email)
        if contact is not None
        else None,
    )


def load_workspace(
    root: Path, settings: Settings | None = None, *, now: datetime | None = None
) -> tuple[Workspace | None, Diagnostics]:
    """Load the workspace at `root`; the workspace is None when there are errors."""
    workspace, diag = read_workspace(root, settings, now=now)
    return (workspace if diag.ok else None), diag


def read_workspace(
    root: Path, settings: Settings | None = None, *, now: datetime | None = None
) -> tuple[Workspace | None, Diagnostics]:
    """Read the workspace at `root`, leaving out what has errors (None: no folder at all).

    Callers decide what the errors mean: `load_workspace` refuses any, a reload
    quarantines the campaigns they are confined to (workspace/quarantine.py)."""
    root = root.resolve()
    settings = settings or Settings.from_environ(root)
    diag = Diagnostics()
    reader = Reader(root, diag)
    now = now or datetime.now(UTC)
    if not root.is_dir():
        diag.error(str(root), 1, "workspace folder not found")
        return None, diag
    tz, schedules_doc = _load_timezone(reader, settings)
    topics = _load_topics(reader)
    glossary = _load_glossary(reader)
    campaigns = load_campaigns(reader, topics, tz)
    channels = _load_channels(reader, settings)
    office = _load_office(reader, topics)
    alerts = AlertArea.of(office.alerts) if office.alerts else None
    schedules: tuple[Schedule, ...] = ()
    if schedules_doc is not None:
        schedules = check_schedules(reader, schedules_doc, campaigns, channels, tz, now)
    alerting = sorted(c.id for c in campaigns.values() if c.alert is not None)
    if alerting and alerts is None:
        diag.warning(
            "workspace.yaml",
            1,
            f"{', '.join(alerting)} also go out as public alerts (CAP), without an area; "
            "add `alerts: {area: {vi: ..., en: ...}}` here so alert readers can place them "
            "(see docs/alerts.md)",
        )
    workspace = Workspace(
        root=root,
        timezone=tz,
        topics=topics,
        campaigns=campaigns,
        channels=channels,
        schedules=schedules,
        glossary=glossary,
        approval=office.approval,
        alerts=alerts,
        press=_press(office),
        issuer=dict(office.issuer or {}),
        default_topics=tuple(t for t in office.default_topics if t in topics),
    )
    return workspace, diag

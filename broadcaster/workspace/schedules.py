"""Validating schedules.yaml against the campaigns and channels it refers to."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from broadcaster.workspace import schema
from broadcaster.workspace.models import Campaign, ChannelConfig, Frequency, Schedule
from broadcaster.workspace.reader import Reader, localize
from broadcaster.workspace.validation import validate
from broadcaster.workspace.yamlsource import YamlDoc

_PATH = "schedules.yaml"


def cron_trigger(expression: str, tz: ZoneInfo) -> CronTrigger:
    """An APScheduler trigger for a five-field crontab expression in `tz`."""
    return CronTrigger.from_crontab(expression, timezone=tz)


def _check_targets(
    reader: Reader,
    doc: YamlDoc,
    index: int,
    entry: schema.ScheduleEntry,
    campaigns: dict[str, Campaign],
    channels: dict[str, ChannelConfig],
    error: Callable[[str | None, str], None],
) -> None:
    """Report what the entry publishes (a campaign or a digest) and where, if it is wrong."""
    if (entry.campaign is None) == (entry.digest is None):
        error(None, "give exactly one of campaign: or digest:")
    if entry.campaign is not None:
        if (
            entry.campaign not in campaigns
            and not (reader.root / "campaigns" / entry.campaign).is_dir()
        ):
            error("campaign", f"no campaign '{entry.campaign}' in campaigns/")
        if entry.channels is None:
            error(None, "channels: is required with campaign:")
        elif not entry.channels:
            error("channels", "list the channels this schedule publishes to")
        if entry.frequency is not None:
            error("frequency", "frequency: is only for digest schedules")
    for i, name in enumerate(entry.channels or []):
        if name not in channels and not (reader.root / "channels" / f"{name}.yaml").exists():
            known = ", ".join(sorted(channels)) or "none"
            reader.diag.error(
                _PATH,
                doc.line_of(("schedules", index, "channels", i)),
                f"schedule '{entry.id}': no channel '{name}' in channels/ (have: {known})",
            )
    if entry.digest is not None:
        if entry.channels is not None:
            error("channels", "a digest goes to its own channel; remove channels:")
        config = channels.get(entry.digest)
        if config is None and not (reader.root / "channels" / f"{entry.digest}.yaml").exists():
            error("digest", f"no channel '{entry.digest}' in channels/")
        elif config is not None and not config.options.accepts_digest():
            error("digest", f"channel '{entry.digest}' is not an email channel to subscribers")


def _check_entry(
    reader: Reader,
    doc: YamlDoc,
    index: int,
    entry: schema.ScheduleEntry,
    campaigns: dict[str, Campaign],
    channels: dict[str, ChannelConfig],
    tz: ZoneInfo,
    now: datetime,
) -> Schedule | None:
    def error(key: str | None, message: str) -> None:
        loc = ("schedules", index) if key is None else ("schedules", index, key)
        reader.diag.error(_PATH, doc.line_of(loc), f"schedule '{entry.id}': {message}")

    errors_before = len(reader.diag.errors)
    timing = [key for key in ("at", "cron", "every") if getattr(entry, key) is not None]
    if len(timing) != 1:
        error(
            None,
            "give exactly one of at:, cron: or every:"
            + (f" (found {', '.join(timing)})" if timing else ""),
        )
    _check_targets(reader, doc, index, entry, campaigns, channels, error)
    if entry.cron is not None:
        try:
            cron_trigger(entry.cron, tz)
        except ValueError as exc:
            error(
                "cron",
                f"invalid cron expression {entry.cron!r}: {exc} "
                "(five fields: minute hour day-of-month month day-of-week)",
            )
    at = localize(entry.at, tz) if entry.at is not None else None
    until = localize(entry.until, tz) if entry.until is not None else None
    if at is not None and at < now:
        reader.diag.warning(
            _PATH,
            doc.line_of(("schedules", index, "at")),
            f"schedule '{entry.id}': at {at.isoformat()} is in the past; it fires only within "
            "the catch-up window after it (`broadcaster publish` sends now)",
        )
    if at is not None and until is not None:
        error("until", "until: has no meaning with at:")
    if len(reader.diag.errors) > errors_before:
        return None
    frequency = entry.frequency or (Frequency.DAILY if entry.digest else None)
    return Schedule(
        id=entry.id,
        campaign=entry.campaign,
        digest=entry.digest,
        frequency=Frequency(frequency) if frequency else None,
        channels=tuple(entry.channels or ()),
        at=at,
        cron=entry.cron,
        every=entry.every,
        until=until,
    )


def check_schedules(
    reader: Reader,
    doc: YamlDoc,
    campaigns: dict[str, Campaign],
    channels: dict[str, ChannelConfig],
    tz: ZoneInfo,
    now: datetime,
) -> tuple[Schedule, ...]:
    """Validate schedules.yaml; returns the schedules that are fully valid."""
    parsed = validate(schema.SchedulesFile, doc, _PATH, reader.diag)
    if parsed is None:
        return ()
    seen: set[str] = set()
    schedules: list[Schedule] = []
    for index, raw in enumerate(parsed.schedules):
        entry = validate(
            schema.ScheduleEntry, doc, _PATH, reader.diag, data=raw, prefix=("schedules", index)
        )
        if entry is None:
            continue
        if entry.id in seen:
            reader.diag.error(
                _PATH,
                doc.line_of(("schedules", index, "id")),
                f"duplicate schedule id '{entry.id}'",
            )
            continue
        seen.add(entry.id)
        schedule = _check_entry(reader, doc, index, entry, campaigns, channels, tz, now)
        if schedule is not None:
            schedules.append(schedule)
    return tuple(schedules)

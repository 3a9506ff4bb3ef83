"""The file formats of a workspace as pydantic models: unknown keys are errors."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from broadcaster.workspace.alerts import AlertFile, AlertsFile
from broadcaster.workspace.models import ApprovalPolicy, Frequency, Priority

ID_PATTERN = r"^[a-z0-9][a-z0-9-]*$"
LOCALE_PATTERN = r"^[a-z]{2,3}(-[A-Z]{2})?$"

# Line breaks and other control characters (a tab is fine). In a title or a name they would
# reach a mail header, where they are refused or would start a header of their own.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")
_CONTROL_NAMES = {"\n": "a line break (\\n)", "\r": "a carriage return (\\r)"}


def one_line(value: str) -> str:
    """`value` if it holds no line break or control character; otherwise say which and where."""
    found = _CONTROL.search(value)
    if found is None:
        return value
    char = found.group()
    name = _CONTROL_NAMES.get(char, f"the control character U+{ord(char):04X}")
    raise ValueError(
        f"must be a single line, but has {name} after {value[: found.start()][-30:]!r}; "
        "write it on one line (in YAML, without a '|' block or \\n, \\r escapes)"
    )


Identifier = Annotated[str, StringConstraints(pattern=ID_PATTERN, max_length=80)]
Locale = Annotated[str, StringConstraints(pattern=LOCALE_PATTERN)]
# One line of text: what goes into titles, names, mail headers and feed titles.
Line = Annotated[str, AfterValidator(one_line)]
Text = Annotated[
    str, StringConstraints(min_length=1, strip_whitespace=True), AfterValidator(one_line)
]
LocalizedText = dict[Locale, Text]


def _when(value: object) -> datetime | date:
    if isinstance(value, datetime | date):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError(
        f"{value!r} is not a date or date-time; write 2021-12-31 or 2021-07-09T08:00:00+07:00"
    )


# A date (midnight in the workspace time zone) or a date-time; naive ones are local.
When = Annotated[datetime | date, BeforeValidator(_when)]


class Strict(BaseModel):
    """Base for every file format: a misspelt key must never be ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class CampaignFile(Strict):
    """`campaigns/<id>/campaign.yaml`."""

    topics: Annotated[list[Identifier], Field(min_length=1)]
    priority: Priority = Priority.NORMAL
    valid_from: When
    expires: When | None = None
    issuer: LocalizedText
    reference: Text | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    alert: AlertFile | None = None


class FrontMatter(Strict):
    """The YAML front matter of `campaigns/<id>/<locale>.md`."""

    title: Annotated[
        str,
        StringConstraints(min_length=1, max_length=200, strip_whitespace=True),
        AfterValidator(one_line),
    ]
    summary: Annotated[
        str,
        StringConstraints(min_length=1, max_length=600, strip_whitespace=True),
        AfterValidator(one_line),
    ]
    # What the latest correction changed, in this locale's words: the top of a correction
    # email, and the CAP Update's note.
    changes: Annotated[
        str,
        StringConstraints(max_length=600, strip_whitespace=True),
        AfterValidator(one_line),
    ] = ""


class LocaleSpeechFile(Strict):
    words_per_minute: Annotated[int, Field(ge=60, le=400)] = 150
    abbreviations: dict[Text, Text] = Field(default_factory=dict)
    domains: dict[Text, Text] = Field(default_factory=dict)
    addresses: dict[Text, Text] = Field(default_factory=dict)


_DURATION = re.compile(r"^\s*(?:(\d+)\s*w)?\s*(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m)?\s*$")


def parse_duration(value: object) -> timedelta:
    """`every:` values: '30m', '6h', '1d', '1w', '1d12h' (whole minutes at least)."""
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValueError("write a duration with a unit, for example '30m', '6h' or '1d'")
    match = _DURATION.fullmatch(str(value))
    if not match or not any(match.groups()):
        raise ValueError(
            f"{value!r} is not a duration; write for example '30m', '6h', '1d' or '1w'"
        )
    weeks, days, hours, minutes = (int(g or 0) for g in match.groups())
    delta = timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes)
    if delta < timedelta(minutes=1):
        raise ValueError("the interval must be at least one minute")
    return delta


class ScheduleEntry(Strict):
    """One item of `schedules:` in schedules.yaml."""

    id: Identifier
    campaign: Identifier | None = None
    digest: Identifier | None = None
    frequency: Literal[Frequency.DAILY, Frequency.WEEKLY] | None = None
    channels: list[Identifier] | None = None
    at: When | None = None
    cron: Text | None = None
    every: timedelta | None = None
    until: When | None = None

    @field_validator("every", mode="before")
    @classmethod
    def _every(cls, value: object) -> object:
        return None if value is None else parse_duration(value)


class SchedulesFile(Strict):
    """schedules.yaml; each entry is validated on its own so one typo hides nothing else."""

    timezone: Text
    schedules: list[dict[str, Any]] = Field(default_factory=list)


class PressContactFile(Strict):
    """`press.contact` in workspace.yaml: who journalists call about the releases."""

    name: LocalizedText
    phone: Text = ""
    email: Text = ""


class PressFile(Strict):
    """`press:` in workspace.yaml: the issuer's place (for the date line) and the contact."""

    place: LocalizedText
    contact: PressContactFile | None = None


class WorkspaceFile(Strict):
    """`workspace.yaml` (optional): workspace-wide policy and what a new campaign starts with."""

    approval: ApprovalPolicy = ApprovalPolicy.TWO_PERSON
    alerts: AlertsFile | None = None
    press: PressFile | None = None
    issuer: LocalizedText | None = None
    default_topics: list[Identifier] = Field(default_factory=list)


class ChannelHeader(BaseModel):
    """Only `type:` is read first; the rest is validated by the channel type's own model."""

    model_config = ConfigDict(extra="allow")

    type: Text

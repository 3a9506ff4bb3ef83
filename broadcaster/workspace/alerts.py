"""Public alerts (CAP 1.2): a campaign's `alert:` settings and the workspace's `alerts:` area.

The values are CAP 1.2's own vocabularies, spelt as the standard spells them, so that
`check` refuses what an alert reader would refuse. A campaign marked `priority: urgent`
is an alert even without `alert:`; then every value takes its default (see
docs/alerts.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

Category = Literal[
    "Geo",
    "Met",
    "Safety",
    "Security",
    "Rescue",
    "Fire",
    "Health",
    "Env",
    "Transport",
    "Infra",
    "CBRNE",
    "Other",
]
Urgency = Literal["Immediate", "Expected", "Future", "Past", "Unknown"]
Severity = Literal["Extreme", "Severe", "Moderate", "Minor", "Unknown"]
Certainty = Literal["Observed", "Likely", "Possible", "Unlikely", "Unknown"]
ResponseType = Literal[
    "Shelter", "Evacuate", "Prepare", "Execute", "Avoid", "Monitor", "Assess", "AllClear", "None"
]
Status = Literal["Actual", "Exercise", "Test"]

_Word = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\r\n]+$")]
_Point = r"-?\d{1,2}(\.\d+)?,-?\d{1,3}(\.\d+)?"
# CAP's polygon: four or more "lat,lon" pairs separated by spaces, first and last the same.
_POLYGON = rf"^{_Point}( {_Point}){{3,}}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _other() -> list[Category]:
    return ["Other"]


class AlertFile(_Strict):
    """`alert:` in campaign.yaml: how the campaign reads as a CAP alert."""

    category: list[Category] = Field(default_factory=_other, min_length=1)
    event: dict[str, _Word] = Field(default_factory=dict)
    urgency: Urgency | None = None
    severity: Severity | None = None
    certainty: Certainty | None = None
    response_type: list[ResponseType] = Field(default_factory=list)
    status: Status = "Actual"

    @field_validator("category", "response_type", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value


class Geocode(_Strict):
    name: _Word  # the code system, for example a national administrative unit code list
    value: _Word


class AlertsFile(_Strict):
    """`alerts:` in workspace.yaml: who sends the alerts, and the area they cover."""

    sender: _Word | None = None
    area: dict[str, _Word] = Field(min_length=1)
    geocodes: list[Geocode] = Field(default_factory=list)
    polygons: list[Annotated[str, StringConstraints(pattern=_POLYGON)]] = Field(
        default_factory=list
    )

    @field_validator("polygons")
    @classmethod
    def _closed(cls, values: list[str]) -> list[str]:
        for value in values:
            points = value.split()
            if points[0] != points[-1]:
                raise ValueError(
                    f"polygon {value[:40]!r}... must end where it starts (CAP closes polygons)"
                )
        return values


@dataclass(frozen=True)
class Alert:
    """A campaign's alert settings with the defaults filled in."""

    category: tuple[str, ...]
    event: Mapping[str, str]  # per locale; a missing locale uses the campaign's title
    urgency: str
    severity: str
    certainty: str
    response_type: tuple[str, ...]
    status: str

    @classmethod
    def of(cls, file: AlertFile | None, urgent: bool) -> Alert:
        """The settings of `alert:` (or none), with the defaults for an urgent campaign
        (Immediate, Moderate, Observed) or another one (Expected, Minor, Likely)."""
        file = file or AlertFile()
        return cls(
            category=tuple(file.category),
            event=dict(file.event),
            urgency=file.urgency or ("Immediate" if urgent else "Expected"),
            severity=file.severity or ("Moderate" if urgent else "Minor"),
            certainty=file.certainty or ("Observed" if urgent else "Likely"),
            response_type=tuple(file.response_type),
            status=file.status,
        )

    def to_json(self) -> dict[str, object]:
        """As stored in a publication's snapshot."""
        return {
            "category": list(self.category),
            "event": dict(self.event),
            "urgency": self.urgency,
            "severity": self.severity,
            "certainty": self.certainty,
            "response_type": list(self.response_type),
            "status": self.status,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, object] | None) -> Alert | None:
        """Back from `to_json` (None stays None)."""
        if raw is None:
            return None
        return cls(
            category=tuple(raw["category"]),  # type: ignore[arg-type]
            event=dict(raw["event"]),  # type: ignore[call-overload]
            urgency=str(raw["urgency"]),
            severity=str(raw["severity"]),
            certainty=str(raw["certainty"]),
            response_type=tuple(raw["response_type"]),  # type: ignore[arg-type]
            status=str(raw["status"]),
        )


@dataclass(frozen=True)
class AlertArea:
    """The workspace's `alerts:`: the CAP sender and the area every alert covers."""

    sender: str | None
    area: Mapping[str, str]
    geocodes: tuple[tuple[str, str], ...] = ()
    polygons: tuple[str, ...] = ()

    @classmethod
    def of(cls, file: AlertsFile) -> AlertArea:
        return cls(
            file.sender,
            dict(file.area),
            tuple((g.name, g.value) for g in file.geocodes),
            tuple(file.polygons),
        )

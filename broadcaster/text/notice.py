"""What a later publication of a campaign says about the earlier ones: a correction of
them, or their withdrawal. It travels in the publication's snapshot, so a retry, a resume
after a crash and every channel read the same."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime


class NoticeKind(enum.StrEnum):
    CORRECTION = "correction"  # a new revision of a campaign readers already had
    WITHDRAWAL = "withdrawal"  # the campaign was taken back


class Correction(enum.StrEnum):
    """Staff's choice when publishing a correction: does it warrant an email?"""

    MINOR = "minor"  # site, feeds, partners and alerts update; no email
    MATERIAL = "material"  # also email everyone who had the earlier version, marked Updated


@dataclass(frozen=True)
class Notice:
    kind: NoticeKind
    # Correction: whether readers who were emailed get the corrected text (material).
    material: bool = True
    # Withdrawal: why, in staff's words (one language: it is quoted as written).
    reason: str = ""
    # When the version it corrects or withdraws went out.
    earlier_at: datetime | None = None

    @property
    def emails(self) -> bool:
        """Whether email channels send anything for it."""
        return self.kind == NoticeKind.WITHDRAWAL or self.material

    def to_json(self) -> dict[str, object]:
        return {
            "kind": str(self.kind),
            "material": self.material,
            "reason": self.reason,
            "earlier_at": self.earlier_at.isoformat() if self.earlier_at else None,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, object] | None) -> Notice | None:
        if raw is None:
            return None
        earlier = raw.get("earlier_at")
        return cls(
            NoticeKind(str(raw["kind"])),
            bool(raw.get("material", True)),
            str(raw.get("reason") or ""),
            datetime.fromisoformat(str(earlier)) if earlier else None,
        )

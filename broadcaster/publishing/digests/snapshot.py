"""What a digest publication lists, frozen as JSON on the publication like any other.

A digest snapshot names the digest (schedule, channel, frequency, fire time) and every
publication it may list, each with its title, summary and link per locale, taken from
that publication's own snapshot. Which of them a subscriber sees depends on their topics
and on when they last had a digest (see `compose`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from broadcaster.workspace.models import DEFAULT_LOCALE, Frequency

DIGEST_SNAPSHOT_VERSION = 1
# Digest publications' campaign_id: `digest:<schedule id>`. Campaign ids cannot contain ':'.
DIGEST_CAMPAIGN_PREFIX = "digest:"


def is_digest(campaign_id: str) -> bool:
    """True for the publications digests create."""
    return campaign_id.startswith(DIGEST_CAMPAIGN_PREFIX)


@dataclass(frozen=True)
class DigestEntryText:
    title: str
    summary: str
    url: str


@dataclass(frozen=True)
class DigestEntry:
    """One publication a digest may list."""

    publication_id: int
    campaign: str
    topics: tuple[str, ...]
    urgent: bool
    # When the publication was created: compared with the subscriber's last digest.
    created_at: datetime
    published_at: datetime
    texts: Mapping[str, DigestEntryText]  # per locale the campaign is written in
    # "updated" (a correction) or "withdrawn" (with `reason`); "" for a first publication.
    change: str = ""
    reason: str = ""

    def text(self, locale: str) -> tuple[DigestEntryText, bool]:
        """The text in `locale`, else the default locale's; True when it fell back."""
        if locale in self.texts:
            return self.texts[locale], False
        return self.texts[DEFAULT_LOCALE], locale != DEFAULT_LOCALE


@dataclass(frozen=True)
class DigestSnapshot:
    schedule_id: str
    channel: str
    frequency: Frequency
    fire_time: datetime
    # Nothing created at or before this is listed, whatever a subscriber's last digest.
    window_start: datetime
    entries: tuple[DigestEntry, ...]

    def to_json(self) -> str:
        """Canonical JSON (the same digest gives the same text, and so the same revision)."""
        document = {
            "version": DIGEST_SNAPSHOT_VERSION,
            "kind": "digest",
            "schedule": self.schedule_id,
            "channel": self.channel,
            "frequency": str(self.frequency),
            "fire_time": self.fire_time.isoformat(),
            "window_start": self.window_start.isoformat(),
            "entries": [_entry_json(entry) for entry in self.entries],
        }
        return json.dumps(document, ensure_ascii=False, sort_keys=True)

    @property
    def campaign_id(self) -> str:
        return f"{DIGEST_CAMPAIGN_PREFIX}{self.schedule_id}"

    def revision(self) -> str:
        """A hash of the snapshot, standing in for a campaign revision."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()

    @classmethod
    def from_json(cls, text: str) -> DigestSnapshot:
        """Read `to_json` output back."""
        document: dict[str, Any] = json.loads(text)
        if document.get("kind") != "digest":
            raise ValueError("not a digest snapshot")
        return cls(
            schedule_id=document["schedule"],
            channel=document["channel"],
            frequency=Frequency(document["frequency"]),
            fire_time=datetime.fromisoformat(document["fire_time"]),
            window_start=datetime.fromisoformat(document["window_start"]),
            entries=tuple(_entry(raw) for raw in document["entries"]),
        )


def _entry_json(entry: DigestEntry) -> dict[str, Any]:
    changed = {"change": entry.change, "reason": entry.reason} if entry.change else {}
    return changed | {
        "publication_id": entry.publication_id,
        "campaign": entry.campaign,
        "topics": list(entry.topics),
        "urgent": entry.urgent,
        "created_at": entry.created_at.isoformat(),
        "published_at": entry.published_at.isoformat(),
        "texts": {
            loc: {"title": t.title, "summary": t.summary, "url": t.url}
            for loc, t in entry.texts.items()
        },
    }


def _entry(raw: dict[str, Any]) -> DigestEntry:
    return DigestEntry(
        publication_id=raw["publication_id"],
        campaign=raw["campaign"],
        topics=tuple(raw["topics"]),
        urgent=raw["urgent"],
        created_at=datetime.fromisoformat(raw["created_at"]),
        published_at=datetime.fromisoformat(raw["published_at"]),
        texts={loc: DigestEntryText(**text) for loc, text in raw["texts"].items()},
        change=raw.get("change", ""),
        reason=raw.get("reason", ""),
    )


@dataclass(frozen=True)
class PublishedRow:
    """A publication as the digest query reads it."""

    id: int
    campaign_id: str
    channels: tuple[str, ...]
    created_at: datetime
    snapshot: str


def entries_from(
    rows: Iterable[PublishedRow], channel: str, at: datetime, base_url: str
) -> tuple[DigestEntry, ...]:
    """What a digest on `channel` at `at` may list: each campaign's newest publication there,
    a correction marked updated, a withdrawal marked withdrawn.

    Only publications that went out on the digest's own channel count (the same ones
    immediate subscribers got), and every withdrawal (digest readers may have had the
    campaign in an earlier digest); a campaign that has expired by `at` is left out.
    """
    newest: dict[str, DigestEntry] = {}
    for row in sorted(rows, key=lambda r: (r.created_at, r.id)):
        if is_digest(row.campaign_id):
            continue
        document: dict[str, Any] = json.loads(row.snapshot)
        withdrawal = (document.get("notice") or {}).get("kind") == "withdrawal"
        if channel not in row.channels and not withdrawal:
            continue
        entry = _entry_from_snapshot(row, document, base_url.rstrip("/"), at)
        if entry is not None:
            newest[entry.campaign] = entry
    return tuple(sorted(newest.values(), key=lambda e: (e.created_at, e.publication_id)))


def _entry_from_snapshot(
    row: PublishedRow, document: dict[str, Any], base_url: str, at: datetime
) -> DigestEntry | None:
    campaign = document["campaign"]
    expires = campaign.get("expires")
    if expires and datetime.fromisoformat(expires) <= at:
        return None
    contents: dict[str, dict[str, Any]] = document["contents"]
    if DEFAULT_LOCALE not in contents:
        return None
    texts = {
        loc: DigestEntryText(
            title=content["title"],
            summary=content["summary"],
            url=f"{base_url}/{loc}/{campaign['id']}/",
        )
        for loc, content in contents.items()
    }
    notice = document.get("notice") or {}
    change = {"correction": "updated", "withdrawal": "withdrawn"}.get(str(notice.get("kind")), "")
    return DigestEntry(
        publication_id=row.id,
        campaign=campaign["id"],
        topics=tuple(campaign["topics"]),
        urgent=campaign.get("priority") == "urgent",
        created_at=row.created_at,
        published_at=datetime.fromisoformat(document["published_at"]),
        texts=texts,
        change=change,
        reason=str(notice.get("reason") or "") if change == "withdrawn" else "",
    )

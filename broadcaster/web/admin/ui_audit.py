"""The audit log for admins: sentences in the page language, filters, CSV for spreadsheets."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from aiohttp import web

from broadcaster.staff.audit import AuditEntry, AuditLog, safe_cell
from broadcaster.web.admin.audit_words import AuditWords
from broadcaster.web.admin.i18n import translations
from broadcaster.web.admin.localtime import LocalTime
from broadcaster.web.admin.pages import language, render
from broadcaster.web.admin.throttle import THROTTLE
from broadcaster.web.keys import APPROVALS, LIVE

PAGE_LIMIT = 300
CSV_LIMIT = 100_000
# Excel reads a CSV file as UTF-8 (and so shows Vietnamese) only when it starts with a BOM.
BOM = "\ufeff"
CSV_HEADER = [
    *("id", "at", "actor", "action", "campaign", "revision", "ip", "detail"),
    *("local_time", "description"),
]


@dataclass(frozen=True)
class AuditFilter:
    """What the person asked to see: by whom, which campaign, between which days."""

    who: str = ""
    campaign: str = ""
    since: date | None = None
    until: date | None = None

    @classmethod
    def of(cls, request: web.Request) -> AuditFilter:
        """From the query string; a day that is not a date is ignored."""
        q = request.query
        return cls(
            q.get("who", "").strip(),
            q.get("campaign", "").strip(),
            _day(q.get("from", "")),
            _day(q.get("to", "")),
        )

    def query(self, zone: ZoneInfo) -> dict[str, Any]:
        """Keyword arguments for AuditLog.entries: whole local days, both ends included."""
        return {
            "actor": self.who or None,
            "campaign_id": self.campaign or None,
            "since": datetime.combine(self.since, time(), zone) if self.since else None,
            "until": (
                datetime.combine(self.until + timedelta(days=1), time(), zone)
                if self.until
                else None
            ),
        }

    def as_query(self) -> str:
        """The same filter as a query string (for the CSV link)."""
        pairs = {
            "who": self.who,
            "campaign": self.campaign,
            "from": self.since.isoformat() if self.since else "",
            "to": self.until.isoformat() if self.until else "",
        }
        return urlencode({k: v for k, v in pairs.items() if v})


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text.strip()) if text.strip() else None
    except ValueError:
        return None


async def _entries(request: web.Request, limit: int) -> tuple[list[AuditEntry], AuditFilter]:
    audit_log: AuditLog = request.config_dict[APPROVALS].audit
    await request.config_dict[THROTTLE].write(audit_log)
    chosen = AuditFilter.of(request)
    zone = request.config_dict[LIVE].workspace.timezone
    return await audit_log.entries(limit=limit, **chosen.query(zone)), chosen


def _words(request: web.Request) -> tuple[AuditWords, LocalTime]:
    lang = language(request)
    clock = LocalTime(request.config_dict[LIVE].workspace.timezone, lang)
    return AuditWords(translations(lang), clock.text), clock


async def described(request: web.Request, limit: int) -> list[tuple[AuditEntry, str, str]]:
    """The filtered entries, each with its sentence and local time (for the JSON API)."""
    entries, _ = await _entries(request, limit)
    words, clock = _words(request)
    return [(e, words.sentence(e), clock.text(e.at)) for e in entries]


async def page(request: web.Request) -> web.Response:
    """The audit page (the caller checked the role)."""
    entries, chosen = await _entries(request, PAGE_LIMIT)
    words, _ = _words(request)
    actors, campaigns = await request.config_dict[APPROVALS].audit.choices()
    return render(
        request,
        "audit.html",
        rows=[(e, words.sentence(e)) for e in entries],
        chosen=chosen,
        actors=actors,
        actor_names={a: words.actor(a) for a in actors},
        campaigns=campaigns,
        limit=PAGE_LIMIT,
    )


async def csv_file(request: web.Request) -> web.Response:
    """The filtered log as CSV, oldest first, with a BOM and a sentence per entry."""
    entries, _ = await _entries(request, CSV_LIMIT)
    words, clock = _words(request)
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    for e in reversed(entries):
        detail = json.dumps(e.detail, ensure_ascii=False, sort_keys=True)
        writer.writerow(
            [
                e.id,
                e.at.isoformat(),
                safe_cell(e.actor),
                e.action,
                safe_cell(e.campaign_id or ""),
                e.revision or "",
                e.ip or "",
                safe_cell(detail),
                f"{clock.text(e.at)} ({clock.label(e.at)})",
                safe_cell(words.sentence(e)),
            ]
        )
    return web.Response(
        text=out.getvalue(),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": 'attachment; filename="audit-log.csv"'},
    )

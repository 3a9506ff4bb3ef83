"""The subscriber list as CSV: `email,locale,topics,frequency[,status]`, topics split by `;`.

Reading validates every row against the workspace and reports each bad one as
`FILE:LINE: message`; the caller imports nothing unless there were none.
"""

from __future__ import annotations

import csv
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from broadcaster.subscribers.addresses import InvalidAddress, normalise
from broadcaster.subscribers.api import SubscriberStatus
from broadcaster.workspace.diagnostics import Diagnostics, Problem
from broadcaster.workspace.models import Frequency

COLUMNS = ("email", "locale", "topics", "frequency")
STATUS_COLUMN = "status"  # optional: `pending` keeps a row pending even with --confirmed
TOPIC_SEPARATOR = ";"
_FREQUENCY_IDS = {f.value for f in Frequency}
_FREQUENCIES = ", ".join(f.value for f in Frequency)
_STATUSES = (SubscriberStatus.CONFIRMED, SubscriberStatus.PENDING)


@dataclass(frozen=True)
class CsvSubscriber:
    """One valid row."""

    line: int
    email: str  # normalised
    locale: str
    topics: tuple[str, ...]
    frequency: Frequency
    status: SubscriberStatus | None = None  # from the optional status column


def read_subscribers(
    path: Path, *, topics: Collection[str], locales: Collection[str], shown: str | None = None
) -> tuple[list[CsvSubscriber], list[Problem]]:
    """The valid rows of the file at `path` and a problem for every invalid one.

    `shown` is how problems name the file (default: `path` as given).
    """
    name = shown if shown is not None else str(path)
    diag = Diagnostics()
    try:
        with path.open(encoding="utf-8-sig", newline="") as file:
            rows = _read(file, name, diag, topics, locales)
    except UnicodeDecodeError as exc:
        diag.error(name, 1, f"not UTF-8 text ({exc.reason}): save the file as CSV UTF-8")
        return [], diag.errors
    except csv.Error as exc:
        diag.error(name, 1, f"not a readable CSV file: {exc}")
        return [], diag.errors
    return rows, diag.errors


def _read(
    file: TextIO,
    name: str,
    diag: Diagnostics,
    topics: Collection[str],
    locales: Collection[str],
) -> list[CsvSubscriber]:
    reader = csv.reader(file)
    header: list[str] | None = None
    for fields in reader:
        if any(field.strip() for field in fields):
            header = [field.strip().lower() for field in fields]
            break
    expected = ",".join(COLUMNS)
    if header is None:
        diag.error(name, 1, f"the file is empty: start it with the header line {expected}")
        return []
    missing = [column for column in COLUMNS if column not in header]
    unknown = [c for c in header if c not in (*COLUMNS, STATUS_COLUMN)]
    if missing or unknown or len(set(header)) != len(header):
        diag.error(
            name,
            reader.line_num,
            f"the header must be {expected} (optionally ,{STATUS_COLUMN}); "
            f"found {','.join(header)}",
        )
        return []
    where = {column: header.index(column) for column in header}
    known_topics, known_locales = set(topics), set(locales)
    seen: dict[str, int] = {}
    rows: list[CsvSubscriber] = []
    for fields in reader:
        line = reader.line_num
        if not any(field.strip() for field in fields):
            continue
        if len(fields) != len(header):
            diag.error(name, line, f"expected {len(header)} fields, found {len(fields)}")
            continue
        values = {column: fields[index].strip() for column, index in where.items()}
        problems: list[str] = []
        row = _row(line, values, known_topics, known_locales, problems)
        if row is not None:
            key = row.email.casefold()
            first = seen.setdefault(key, line)
            if first != line:
                problems.append(f"{row.email} is already on line {first}")
        for message in problems:
            diag.error(name, line, message)
        if row is not None and not problems:
            rows.append(row)
    return rows


def _row(
    line: int,
    values: dict[str, str],
    known_topics: set[str],
    known_locales: set[str],
    problems: list[str],
) -> CsvSubscriber | None:
    try:
        email = normalise(values["email"])
    except InvalidAddress as exc:
        problems.append(f"email: {exc}")
        email = ""
    locale = values["locale"]
    if locale not in known_locales:
        problems.append(f"locale {locale!r} is not one of {', '.join(sorted(known_locales))}")
    chosen = tuple(dict.fromkeys(t.strip() for t in values["topics"].split(TOPIC_SEPARATOR)))
    chosen = tuple(t for t in chosen if t)
    if not chosen:
        problems.append(f"topics: name at least one, separated by '{TOPIC_SEPARATOR}'")
    for topic in chosen:
        if topic not in known_topics:
            problems.append(f"topic {topic!r} is not in campaigns/topics.yaml")
    frequency = Frequency(values["frequency"]) if values["frequency"] in _FREQUENCY_IDS else None
    if frequency is None:
        problems.append(f"frequency {values['frequency']!r} is not one of {_FREQUENCIES}")
    status: SubscriberStatus | None = None
    raw_status = values.get(STATUS_COLUMN, "")
    if raw_status:
        if raw_status not in _STATUSES:
            problems.append(f"status {raw_status!r} is not confirmed or pending")
        else:
            status = SubscriberStatus(raw_status)
    if problems or frequency is None:
        return None
    return CsvSubscriber(line, email, locale, chosen, frequency, status)


def write_subscribers(
    rows: Iterable[tuple[str, str, Iterable[str], str, str]], out: TextIO, *, header: bool = True
) -> int:
    """Write (email, locale, topics, frequency, status) rows in the import format."""
    writer = csv.writer(out, lineterminator="\n")
    if header:
        writer.writerow([*COLUMNS, STATUS_COLUMN])
    count = 0
    for email, locale, topics, frequency, status in rows:
        writer.writerow([email, locale, TOPIC_SEPARATOR.join(topics), frequency, status])
        count += 1
    return count

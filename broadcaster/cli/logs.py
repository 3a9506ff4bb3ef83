"""Logging as readable text or as JSON lines (for log shippers)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime


class JsonLines(logging.Formatter):
    """One JSON object a line: time, level, logger, message, and the exception if any."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure(fmt: str, level: str = "INFO", *, verbose: bool = False) -> None:
    """Send logs to stderr as `text` or `json`; `verbose` keeps the libraries' INFO lines
    (Alembic's plugins and migrations, APScheduler's jobs, aiohttp's access log)."""
    handler = logging.StreamHandler()
    if fmt == "json":
        handler.setFormatter(JsonLines())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Noise unless asked for: aiohttp's access log under load, Alembic's "setup plugin" and
    # "Context impl" lines on every start; their warnings and errors still show.
    quiet = logging.NOTSET if verbose else logging.WARNING
    for name in ("aiohttp.access", "apscheduler", "alembic"):
        logging.getLogger(name).setLevel(quiet)

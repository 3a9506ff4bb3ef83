"""Temporary delivery failures in the log: the first of each kind per channel at once, with
what to do, then at most one line a minute per channel and cause saying how many more."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

INTERVAL = 60.0  # seconds between lines about one channel and cause
_MAX_CAUSE = 160

_SMTP = re.compile(r"^SMTP (\d{3})(?: (\d\.\d{1,3}\.\d{1,3}))?")
_HTTP = re.compile(r"^HTTP (\d{3})")
_ADDRESS = re.compile(r"<?[^\s<>()\"',;:]+@[^\s<>()\"',;:]+>?")
_HINTS = (
    ("No space left on device", "free space on the disk that holds it"),
    ("Disk quota exceeded", "raise the quota or free space"),
    ("Read-only file system", "make the file system writable again"),
    ("Permission denied", "let the user serve runs as write there"),
    ("Maildir", "make it a folder the service can write, on a disk with space"),
    ("cannot write to", "make it a folder the service can write, on a disk with space"),
    ("SMTP 4", "see why in the relay's log; a full queue or disk there is common"),
    ("SMTP relay", "check that the relay runs and that this host can reach it"),
    ("HTTP 429", "the partner asks to slow down; nothing to do unless it lasts"),
    ("HTTP 5", "tell the partner their endpoint is failing"),
    ("no answer from", "tell the partner their endpoint does not answer in time"),
    ("cannot connect to", "check that the partner's endpoint is up and reachable from here"),
)


def cause_of(reason: str) -> str:
    """The kind of a failure, the same for every message it hits: a reply's code, not its
    text (which may name the recipient or a queue id), and no addresses."""
    smtp = _SMTP.match(reason)
    if smtp:
        return " ".join(part for part in ("SMTP", *smtp.groups()) if part)
    http = _HTTP.match(reason)
    if http:
        return f"HTTP {http.group(1)}"
    return _ADDRESS.sub("<address>", reason)[:_MAX_CAUSE]


def hint_for(reason: str) -> str:
    """What an operator can do about a temporary failure; they are retried meanwhile."""
    for marker, hint in _HINTS:
        if marker in reason:
            return f"{hint}; the deliveries are retried with backoff"
    return "the deliveries are retried with backoff; `broadcaster status` shows each attempt"


@dataclass
class _Window:
    started: float
    more: int = 0
    example: str = ""


class TroubleLog:
    """Logs temporary delivery failures without a line per message (see the module)."""

    def __init__(
        self, interval: float = INTERVAL, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.interval = interval
        self.clock = clock
        self._windows: dict[tuple[str, str], _Window] = {}

    def failed(self, channel: str, reason: str) -> None:
        """One delivery on `channel` failed for now, for `reason`."""
        key = (channel, cause_of(reason))
        now = self.clock()
        window = self._windows.get(key)
        if window is None:
            self._windows[key] = _Window(now)
            kind = "" if key[1] == reason else f" ({key[1]})"
            log.warning(
                "channel %s: deliveries fail for now%s: %s; %s",
                channel,
                kind,
                reason,
                hint_for(reason),
            )
            return
        window.more += 1
        window.example = reason
        self.flush()

    def flush(self, *, final: bool = False) -> None:
        """Say how many more failed, per channel and cause, once a window is over (or now,
        when `final`); forget causes that stayed quiet for a whole window."""
        now = self.clock()
        for key, window in list(self._windows.items()):
            if not final and now - window.started < self.interval:
                continue
            if window.more:
                last = "" if window.example == key[1] else f"; the last: {window.example}"
                log.warning(
                    "channel %s: %s more deliveries failed for now in the last %.0f s: %s%s",
                    key[0],
                    window.more,
                    now - window.started,
                    key[1],
                    last,
                )
                self._windows[key] = _Window(now)
            else:
                del self._windows[key]

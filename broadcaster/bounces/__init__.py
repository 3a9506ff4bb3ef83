"""Bounces and complaints: DSNs and ARF reports turned into suppressions and unsubscribes.

`broadcaster bounces process PATH` reads a Maildir or an mbox; the optional built-in
receiver (`BROADCASTER_BOUNCE_LISTEN`) takes them over SMTP. Both run every message
through one `BounceProcessor`.
"""

from broadcaster.bounces.classify import Finding, Kind, classify
from broadcaster.bounces.process import BounceOutcome, BounceProcessor, MessageResult, Report
from broadcaster.bounces.verp import VERP_PREFIX, verp_token

__all__ = [
    "VERP_PREFIX",
    "BounceOutcome",
    "BounceProcessor",
    "Finding",
    "Kind",
    "MessageResult",
    "Report",
    "classify",
    "verp_token",
]

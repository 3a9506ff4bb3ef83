"""The VERP return path `bounces+<token>@<domain>`: which subscriber a bounce is about.

The mail engine makes the token (HMAC-signed, so nobody can forge a bounce that
suppresses someone else); `subscriber_reader` is the only place that reads it.
"""

from __future__ import annotations

from collections.abc import Callable
from email.utils import parseaddr

VERP_PREFIX = "bounces+"

# token -> subscriber id, or None when the token is not genuine.
SubscriberReader = Callable[[str], int | None]


def verp_token(address: str) -> str | None:
    """The token of a `bounces+<token>@domain` address, else None."""
    addr = parseaddr(address)[1] or address
    local, at, _ = addr.strip().strip("<>").rpartition("@")
    if not at or not local.lower().startswith(VERP_PREFIX):
        return None
    token = local[len(VERP_PREFIX) :]
    return token or None


def subscriber_reader(secret: bytes) -> SubscriberReader:
    """Read VERP tokens made with `secret` by the mail engine."""
    from broadcaster.mail.verp import read_token  # the mail engine's format; see its docstring

    def read(token: str) -> int | None:
        return read_token(secret, token)

    return read

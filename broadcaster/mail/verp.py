"""VERP return paths: `bounces+<token>@<domain>`, the envelope sender of every list message.

Format (a contract with `broadcaster.bounces`): the token is `<subscriber id>-<mac>`,
where the id is decimal and the mac is the first 20 hex digits (80 bits) of
HMAC-SHA256(key, b"verp:<subscriber id>") with key = HMAC-SHA256(secret key, b"verp"),
the secret key being the workspace's `BROADCASTER_SECRET_KEY`. Only digits, `-` and
lower-case hex: mail systems that change the case of local parts cannot break it, and
nobody without the secret can make a bounce that suppresses somebody else. Example:
`bounces+42-3f9a0c1d2e4b5a6978ab@example.gov.vn`.

The subscriber's messages all carry the same return path (the Message-ID tells the
deliveries apart). A list message is sent with this address as SMTP `MAIL FROM`; the
receiving system records it as `Return-Path:`, and the Maildir transport writes that
header itself, as a final delivery agent would.
"""

from __future__ import annotations

import hashlib
import hmac

PREFIX = "bounces+"
_MAC_HEX = 20


def _key(secret: bytes) -> bytes:
    return hmac.new(secret, b"verp", hashlib.sha256).digest()


class Verp:
    """Makes the return path of each subscriber's mail (the key is derived once)."""

    def __init__(self, secret: bytes, domain: str) -> None:
        self._key = hmac.new(_key(secret), digestmod=hashlib.sha256)
        self.domain = domain

    def token(self, subscriber_id: int) -> str:
        """`<id>-<mac>` for one subscriber."""
        # A copy of the keyed HMAC skips hashing the key's pads again for every message.
        keyed = self._key.copy()
        keyed.update(b"verp:%d" % subscriber_id)
        mac = keyed.digest()[: _MAC_HEX // 2].hex()
        return f"{subscriber_id}-{mac}"

    def address(self, subscriber_id: int) -> str:
        """`bounces+<token>@<domain>`."""
        return f"{PREFIX}{self.token(subscriber_id)}@{self.domain}"


def make_token(secret: bytes, subscriber_id: int) -> str:
    """The VERP token for `subscriber_id` (see the module docstring)."""
    return Verp(secret, "").token(subscriber_id)


def read_token(secret: bytes, token: str) -> int | None:
    """The subscriber id a genuine token names, else None (constant-time comparison)."""
    number, dash, mac = token.strip().lower().partition("-")
    if (
        not dash
        or not (number.isascii() and number.isdigit())
        or len(number) > 19
        or len(mac) != _MAC_HEX
    ):
        return None
    subscriber_id = int(number)
    expected = make_token(secret, subscriber_id).partition("-")[2]
    return subscriber_id if hmac.compare_digest(expected, mac) else None

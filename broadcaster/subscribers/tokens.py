"""Signed links for confirming, unsubscribing and changing preferences (`api.Tokens`).

Format: `<subscriber id>.<token version>.<issued>.<mac>`, the first three decimal (issued
in Unix seconds), the mac the first 16 bytes (128 bits) of

    HMAC-SHA256(purpose key, b"<subscriber id>.<token version>.<issued>")

in unpadded base64url, where purpose key = HMAC-SHA256(BROADCASTER_SECRET_KEY,
b"broadcaster.tokens.v2:" + purpose). A token made for one purpose never verifies for
another; the mac is compared with `hmac.compare_digest`. Example (preferences, id 42):
`42.0.1764572690.2Rk3X0vQf9lq7b0mJYwN1A`.

Every list message carries two of these, so they cost a few microseconds each: the purpose
keys are set up once and each mac starts from a `.copy()` of a keyed HMAC; the itsdangerous
tokens used before cost about 35. Links in that older format are no longer accepted (nothing
had been deployed with them).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import timedelta

from broadcaster.outbox.outbox import Clock, utc_now
from broadcaster.subscribers.api import TokenPurpose

# A confirmation link works for 7 days; unsubscribe and preferences links never expire
# (they sit in old emails) but die when the subscriber's token_version is bumped.
CONFIRM_MAX_AGE = int(timedelta(days=7).total_seconds())
_MAX_AGE: dict[str, float | None] = {
    "confirm": CONFIRM_MAX_AGE,
    "unsubscribe": None,
    "preferences": None,
}
_MAC_BYTES = 16
_MAC_CHARS = 22  # base64url of 16 bytes, unpadded
_MAX_NUMBER_DIGITS = 19  # fits a 64-bit integer column


def _purpose_key(secret: bytes, purpose: str) -> hmac.HMAC:
    key = hmac.digest(secret, b"broadcaster.tokens.v2:" + purpose.encode(), "sha256")
    return hmac.new(key, digestmod=hashlib.sha256)


def _mac(key: hmac.HMAC, payload: bytes) -> bytes:
    # A copy of the keyed HMAC skips hashing the key's pads again for every token.
    mac = key.copy()
    mac.update(payload)
    return base64.urlsafe_b64encode(mac.digest()[:_MAC_BYTES]).rstrip(b"=")


def _number(text: str) -> int | None:
    if not (0 < len(text) <= _MAX_NUMBER_DIGITS and text.isascii() and text.isdigit()):
        return None
    return int(text)


class SignedTokens:
    """HMAC-SHA256 tokens carrying (subscriber_id, token_version, issued), a key per purpose."""

    def __init__(self, secret: bytes, clock: Clock = utc_now) -> None:
        self._keys = {purpose: _purpose_key(secret, purpose) for purpose in _MAX_AGE}
        self._clock = clock

    def make(self, purpose: TokenPurpose, subscriber_id: int, version: int) -> str:
        """A URL-safe token for `purpose`, bound to this subscriber and token version."""
        payload = b"%d.%d.%d" % (subscriber_id, version, self._clock().timestamp())
        return (payload + b"." + _mac(self._keys[purpose], payload)).decode("ascii")

    def read(
        self, token: str, purpose: TokenPurpose, max_age: float | None = None
    ) -> tuple[int, int] | None:
        """(subscriber_id, version) when the token is genuine, for this purpose, not too old.

        `max_age` (seconds) defaults to the purpose's own: CONFIRM_MAX_AGE for confirm,
        none for the others. The caller compares the version with the subscriber's.
        """
        key = self._keys.get(purpose)
        if key is None or len(token) > 3 * _MAX_NUMBER_DIGITS + 3 + _MAC_CHARS:
            return None
        payload, dot, mac = token.rpartition(".")
        parts = payload.split(".")
        if not dot or len(parts) != 3 or len(mac) != _MAC_CHARS or not mac.isascii():
            return None
        numbers = [_number(part) for part in parts]
        if None in numbers:
            return None
        expected = _mac(key, payload.encode("ascii"))
        if not hmac.compare_digest(expected, mac.encode("ascii")):
            return None
        subscriber_id, version, issued = (n for n in numbers if n is not None)
        limit = _MAX_AGE[purpose] if max_age is None else max_age
        if limit is not None and int(self._clock().timestamp()) - issued > limit:
            return None
        return subscriber_id, version

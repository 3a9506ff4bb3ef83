"""Signed links for confirming, unsubscribing and changing preferences (`api.Tokens`)."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

from itsdangerous import BadData, TimestampSigner, URLSafeTimedSerializer

from broadcaster.outbox import Clock, utc_now

from .api import TokenPurpose

# A confirmation link works for 7 days; unsubscribe and preferences links never expire
# (they sit in old emails) but die when the subscriber's token_version is bumped.
CONFIRM_MAX_AGE = int(timedelta(days=7).total_seconds())
_MAX_AGE: dict[str, float | None] = {
    "confirm": CONFIRM_MAX_AGE,
    "unsubscribe": None,
    "preferences": None,
}


class _ClockedSigner(TimestampSigner):
    """itsdangerous' timestamp signer, reading the time from an injectable clock."""

    def __init__(self, *args: Any, clock: Clock = utc_now, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clock = clock

    def get_timestamp(self) -> int:
        return int(self._clock().timestamp())


class SignedTokens:
    """HMAC-SHA256-signed tokens carrying [subscriber_id, token_version], one salt per purpose.

    The salt is part of the signing key, so a token made for one purpose never verifies
    for another. itsdangerous checks signatures with `hmac.compare_digest`, in constant
    time, so a forger learns nothing from how long a rejection takes.
    """

    def __init__(self, secret: bytes, clock: Clock = utc_now) -> None:
        self._serializers = {
            purpose: URLSafeTimedSerializer(
                secret,
                salt=f"broadcaster.subscribers.{purpose}",
                signer=_ClockedSigner,
                signer_kwargs={"clock": clock, "digest_method": hashlib.sha256},
            )
            for purpose in _MAX_AGE
        }

    def make(self, purpose: TokenPurpose, subscriber_id: int, version: int) -> str:
        """A URL-safe token for `purpose`, bound to this subscriber and token version."""
        return self._serializers[purpose].dumps([subscriber_id, version])

    def read(
        self, token: str, purpose: TokenPurpose, max_age: float | None = None
    ) -> tuple[int, int] | None:
        """(subscriber_id, version) when the token is genuine, for this purpose, not too old.

        `max_age` (seconds) defaults to the purpose's own: CONFIRM_MAX_AGE for confirm,
        none for the others. The caller compares the version with the subscriber's.
        """
        serializer = self._serializers.get(purpose)
        if serializer is None:
            return None
        limit = _MAX_AGE[purpose] if max_age is None else max_age
        try:
            payload = serializer.loads(token, max_age=None if limit is None else int(limit))
        except BadData:  # bad signature, expired, tampered or malformed payload
            return None
        if (
            not isinstance(payload, list)
            or len(payload) != 2
            or not all(type(value) is int for value in payload)
        ):
            return None
        return payload[0], payload[1]

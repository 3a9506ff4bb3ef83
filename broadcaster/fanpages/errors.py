"""What a platform's answer means for a delivery: retry (rate limit, outage) or stop (token,
permission, a post the platform refuses), in one vocabulary for Facebook and Zalo.
"""

from __future__ import annotations

import enum
from datetime import timedelta


class Failure(enum.StrEnum):
    """The kinds of failure a fan-page channel tells apart."""

    TOKEN = "token"  # noqa: S105 - a kind of failure, not a secret; invalid, expired or revoked token: a person must get a new one
    PERMISSION = "permission"  # the token lacks a permission, or the feature is not granted
    RATE_LIMIT = "rate-limit"  # throttled or out of quota: wait, then try again
    TRANSIENT = "transient"  # the platform had a hiccup: try again
    GONE = "gone"  # the post no longer exists (deleted on the page by hand)
    REJECTED = "rejected"  # anything else the platform refuses: not worth retrying


RETRYABLE = (Failure.RATE_LIMIT, Failure.TRANSIENT)

# What an office does about each permanent failure, for logs, `status` and the alert mail.
REMEDY = {
    Failure.TOKEN: "get a new token and set it in the environment (docs/fanpages.md)",
    Failure.PERMISSION: "grant the missing permission to the app (docs/fanpages.md)",
    Failure.GONE: "the post was removed on the page",
    Failure.REJECTED: "see the platform's message; docs/fanpages.md lists the codes",
}


class PlatformError(Exception):
    """A platform refused a request: its kind, its own code, its message, when to retry."""

    def __init__(
        self,
        platform: str,
        failure: Failure,
        code: int | None,
        message: str,
        retry_after: timedelta | None = None,
    ) -> None:
        where = f"{platform} error {code}" if code is not None else f"{platform} error"
        super().__init__(f"{where} ({failure}): {message}")
        self.platform = platform
        self.failure = failure
        self.code = code
        self.message = message
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        return self.failure in RETRYABLE

"""Email addresses as the list keeps them: normalised, and hashed under the secret key."""

from __future__ import annotations

import hashlib
import hmac

from email_validator import EmailNotValidError, validate_email


class InvalidAddress(ValueError):
    """An address that is not a valid email address; the message says why."""


def normalise(address: str) -> str:
    """The address as email-validator normalises it (domain lower-cased, Unicode NFC).

    No DNS lookups: this runs on the request path and in bulk imports.
    """
    candidate = address.strip()
    try:
        return validate_email(candidate, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        shown = candidate if len(candidate) <= 80 else candidate[:77] + "..."
        raise InvalidAddress(f"{shown!r} is not a valid email address: {exc}") from None


class AddressHasher:
    """HMAC-SHA256 of an address under the secret key: the identity kept after erasure.

    The local part is casefolded too: almost every mailbox ignores its case, and a
    suppression must also catch `Ba@...` after `ba@...` bounced. Changing the secret key
    makes every stored hash (and so every suppression) stop matching.
    """

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the secret key is too short to hash addresses with")
        self._key = secret

    def __call__(self, normalised: str) -> str:
        """The hex hash of an already normalised address."""
        return hmac.new(self._key, normalised.casefold().encode(), hashlib.sha256).hexdigest()

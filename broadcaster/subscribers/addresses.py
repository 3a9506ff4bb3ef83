"""Email addresses as the list keeps them: normalised, and hashed under the secret key."""

from __future__ import annotations

import hashlib
import hmac

from email_validator import EmailNotValidError, validate_email


class InvalidAddress(ValueError):
    """An address that is not a valid email address; the message says why."""


class NonAsciiLocalPart(InvalidAddress):
    """An address with non-ASCII characters before the @ (it would need SMTPUTF8)."""


def normalise(address: str) -> str:
    """The address as it travels over SMTP: email-validator's normal form (domain
    lower-cased, Unicode NFC), an internationalised domain in its ASCII (IDNA) form.

    Addresses whose local part is not ASCII are refused (`NonAsciiLocalPart`): they can
    only be delivered over SMTPUTF8 (RFC 6531), which many relays and mailbox providers
    do not offer, so the list would take a subscription it cannot serve. No DNS lookups:
    this runs on the request path and in bulk imports.
    """
    candidate = address.strip()
    shown = candidate if len(candidate) <= 80 else candidate[:77] + "..."
    try:
        valid = validate_email(candidate, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        if not candidate.rpartition("@")[0].isascii():
            raise NonAsciiLocalPart(
                f"{shown!r} has letters other than plain a-z, digits and .-_+ before the @; "
                "this list can only mail such addresses over SMTPUTF8, which it does not "
                "use: give an address without accents or other scripts before the @"
            ) from None
        raise InvalidAddress(f"{shown!r} is not a valid email address: {exc}") from None
    return valid.ascii_email or valid.normalized


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

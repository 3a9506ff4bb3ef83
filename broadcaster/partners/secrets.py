"""Partner signing secrets: generated, encrypted at rest, and used to sign (Standard Webhooks).

A secret is `whsec_` + base64 of 32 random bytes, the format the `standardwebhooks`
libraries read. The store keeps it encrypted with a key derived from
BROADCASTER_SECRET_KEY (Fernet: AES-128-CBC + HMAC-SHA256), so a database dump alone does
not let anyone sign as the agency; the key and the database are kept apart.
"""

from __future__ import annotations

import base64
import functools
import secrets
from collections.abc import Callable, Sequence
from datetime import datetime

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from standardwebhooks import Webhook

PREFIX = "whsec_"
SECRET_BYTES = 32


class SecretKeyMismatch(Exception):
    """A stored secret cannot be decrypted: BROADCASTER_SECRET_KEY is not the one it used."""


def new_secret() -> str:
    """A fresh signing secret: `whsec_` + base64 of 32 random bytes."""
    return PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


class SecretBox:
    """Encrypts and decrypts partner secrets with a key derived from the service's key,
    read on first use (a service that never touches a secret never needs the key)."""

    def __init__(self, secret_key: Callable[[], bytes]) -> None:
        self._secret_key = secret_key

    @functools.cached_property
    def _fernet(self) -> Fernet:
        derived = HKDF(
            algorithm=hashes.SHA256(),
            length=32,
            salt=None,
            info=b"broadcaster partner signing secrets v1",
        ).derive(self._secret_key())
        return Fernet(base64.urlsafe_b64encode(derived))

    def seal(self, secret: str) -> str:
        """The secret encrypted, as ASCII text for the store."""
        return self._fernet.encrypt(secret.encode()).decode()

    def open(self, sealed: str) -> str:
        """The secret `seal` encrypted; SecretKeyMismatch when the key has changed."""
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken:
            raise SecretKeyMismatch(
                "a partner secret cannot be decrypted: BROADCASTER_SECRET_KEY (or "
                "var/secret_key) is not the key it was stored with; restore that key, or "
                "run `broadcaster partners rotate-secret NAME` and send the partner the new one"
            ) from None


def signature(secrets_in_use: Sequence[str], msg_id: str, timestamp: datetime, body: str) -> str:
    """The `webhook-signature` header: one `v1,<base64>` per secret, space-separated."""
    return " ".join(Webhook(s).sign(msg_id, timestamp, body) for s in secrets_in_use)
